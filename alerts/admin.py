"""Alert channels, deliveries and alerts in the admin.

The channel form's secret is a password field that never shows the stored value: left blank it
keeps the old one, "clear secret" removes it. Deliveries and alerts are records: read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alerts import services
from alerts.models import Alert, AlertEvent, Channel, Delivery, Severity
from alerts.targets import TargetError, clean_target, masked_target
from rpa_workbench.admin_site import ReadOnlyAdminMixin
from rpa_workbench.badges import choice_badge
from rpa_workbench.permissions import is_admin


class ChannelForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only: never shown. Leave blank to keep the current secret."),
        label=_("secret"),
    )
    clear_secret = forms.BooleanField(required=False, label=_("clear secret"), help_text=_("Remove the current secret."))
    events = forms.MultipleChoiceField(
        choices=AlertEvent.choices, required=False, widget=forms.CheckboxSelectMultiple, label=_("events")
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "target", "secret", "enabled", "events", "accounts"]
        widgets = {"target": forms.TextInput(attrs={"size": 80})}

    def clean_target(self):
        try:
            return clean_target(self.data.get("kind") or self.instance.kind, self.cleaned_data.get("target", ""))
        except TargetError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_events(self):
        chosen = self.cleaned_data.get("events") or []
        return [event for event in AlertEvent.values if event in chosen]

    def clean(self):
        data = super().clean()
        if data.get("clear_secret"):
            data["secret"] = ""
        elif not data.get("secret") and not self.instance._state.adding:
            data["secret"] = Channel.objects.filter(pk=self.instance.pk).values_list("secret", flat=True).first() or ""
        return data


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "enabled", "event_list", "created_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    filter_horizontal = ["accounts"]
    fields = ["name", "kind", "target", "secret", "clear_secret", "enabled", "events", "accounts"]
    actions = ["send_test"]
    WRITE_ONLY = ("secret", "clear_secret")

    def get_fields(self, request, obj=None):
        """Read-only viewers get the page without the form fields, so the secret is never
        rendered as a read-only value; non-admins see the target masked (its query or path is
        the credential that posts to the operators' group)."""
        if self.has_change_permission(request, obj) or (obj is None and self.has_add_permission(request)):
            fields = list(self.fields)
        else:
            fields = [name for name in self.fields if name not in self.WRITE_ONLY]
        if not is_admin(request.user):
            fields = ["target_masked" if name == "target" else name for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if is_admin(request.user) else [*readonly, "target_masked"]

    @admin.display(description=_("target"))
    def target_masked(self, obj: Channel) -> str:
        return masked_target(obj.kind, obj.target)

    @admin.display(description=_("events"))
    def event_list(self, obj: Channel) -> str:
        labels = dict(AlertEvent.choices)
        return ", ".join(str(labels.get(event, event)) for event in obj.events or []) or "-"

    @admin.action(description=_("Send a test message to the selected channels"), permissions=["change"])
    def send_test(self, request, queryset):
        selected = list(queryset.order_by("name"))
        for channel, result in zip(selected, services.send_tests(selected), strict=True):
            level = messages.SUCCESS if result["success"] else messages.ERROR
            text = gettext("%(subject)s: %(outcome)s") % {"subject": channel.name, "outcome": result["message"]}
            self.message_user(request, text, level)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "event", "channel", "status", "attempts", "last_status", "next_attempt_at", "sent_at"]
    list_filter = ["channel", "event", "status"]
    search_fields = ["=id", "message", "last_error"]
    list_select_related = ["channel"]
    ordering = ["-created_at"]
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Delivery
    fields = ["channel", "status", "attempts", "last_status", "last_error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "event", "severity_badge", "robot", "job_link", "message_summary"]
    list_filter = ["event", "severity"]
    search_fields = ["=id", "message", "account__shadow_bot_account", "task__app_name"]
    list_select_related = ["account", "task"]
    ordering = ["-occurred_at"]
    inlines = [DeliveryInline]
    show_facets = admin.ShowFacets.NEVER
    fields = ["occurred_at", "event", "severity_badge", "message", "account", "task", "job_link"]
    readonly_fields = ["severity_badge", "job_link"]

    @admin.display(ordering="severity", description=_("severity"))
    def severity_badge(self, obj: Alert):
        return choice_badge(Severity, obj.severity)

    @admin.display(description=_("message"))
    def message_summary(self, obj: Alert) -> str:
        """The message's first line (the Chinese one of a bilingual alert), without the link."""
        first = (obj.message or "").strip().splitlines()[:1]
        return Truncator(first[0]).chars(120) if first else "-"

    @admin.display(ordering="account__shadow_bot_account", description=_("robot"))
    def robot(self, obj: Alert):
        account = obj.account
        if account is None:
            return obj.context.get("shadow_bot_account") or "-"
        return format_html('{}<span class="cell-sub">{}</span>', account.shadow_bot_account, account.host_ip)

    @admin.display(description=_("job"))
    def job_link(self, obj: Alert):
        """The job's page, labelled by what ran (the alert keeps only the job's id)."""
        if obj.job_id is None:
            return "-"
        label = obj.context.get("app_name") or obj.context.get("task_name") or gettext("job")
        url = reverse("admin:jobs_job_change", args=[obj.job_id])
        return format_html('<a href="{}">{} · {}</a>', url, label, str(obj.job_id)[:8])
