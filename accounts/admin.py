"""Robot accounts in the admin: presence and status as badges, recent runs on each page.

Presence is derived in the list query (accounts.presence.with_presence), so the list and its
filter cost one query whatever the number of robots.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from accounts import presence, services
from accounts.models import Account, AccountStatus, DispatchBackend
from executionlogs.admin import RecentAccountExecutionsInline
from jobs.admin import RecentJobInline, queue_summary
from rpa_workbench.admin_site import NullsLastAdminMixin
from rpa_workbench.badges import badge, choice_badge
from rpa_workbench.errors import ApiError
from yingdao import rules

# The dispatch backend (API.md §9.3) and what the Yingdao one needs (yingdao/rules.py).
BACKEND_FIELDS = ["dispatch_backend", "yingdao_account_name"]


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["shadow_bot_account", "host_ip", "port", "status", "recent_app", *BACKEND_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dispatch_backend"].required = False  # left out = relay, as before the field existed

    def clean_dispatch_backend(self) -> str:
        return self.cleaned_data.get("dispatch_backend") or DispatchBackend.RELAY

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                existing_pk = None if self.instance._state.adding else self.instance.pk
                services.ensure_unique(data["shadow_bot_account"], data["host_ip"], data["port"], exclude_pk=existing_pk)
            except ApiError as exc:
                raise forms.ValidationError(exc.message) from None
            errors = rules.account_errors(
                dispatch_backend=data.get("dispatch_backend") or DispatchBackend.RELAY,
                yingdao_account_name=data.get("yingdao_account_name") or "",
                account=None if self.instance._state.adding else self.instance,
            )
            for field, message in errors.items():
                self.add_error(field, message)
        return data


class PresenceFilter(admin.SimpleListFilter):
    title = _("presence")
    parameter_name = "presence"

    def lookups(self, request, model_admin):
        return [(value, badge(value, label)) for value, label in presence.PRESENCE_CHOICES]

    def queryset(self, request, queryset):
        if self.value() in presence.PRESENCE_VALUES:
            return presence.filter_presence(queryset, self.value())
        return queryset


@admin.register(Account)
class AccountAdmin(NullsLastAdminMixin, admin.ModelAdmin):
    form = AccountForm
    list_display = [
        "shadow_bot_account",
        "host_ip",
        "port",
        "presence_badge",
        "status_badge",
        "task_count",
        "recent_app",
        "last_seen_at",
        "end_time",
        "dispatch_backend",
    ]
    list_filter = [PresenceFilter, "status", "dispatch_backend", "host_ip"]
    search_fields = ["shadow_bot_account", "host_ip", "recent_app", "task_control"]
    readonly_fields = [
        "id",
        "presence_badge",
        "task_control",
        "end_time",
        "last_heartbeat_at",
        "last_seen_at",
        "created_at",
        "updated_at",
        "yingdao_sync",
        "job_queue",
    ]
    fields = [
        "id", "shadow_bot_account", "host_ip", "port", "status", "recent_app", *BACKEND_FIELDS, *readonly_fields[1:]
    ]  # fmt: skip
    ordering = ["-created_at"]
    inlines = [RecentJobInline, RecentAccountExecutionsInline]

    def get_readonly_fields(self, request, obj=None):
        """Status and recent app are the robots' once the account exists (see services.OWNED_FIELDS)."""
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "status", "recent_app"]

    def get_queryset(self, request):
        return presence.with_presence(super().get_queryset(request).annotate(task_count=Count("tasks")))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(ordering="task_count", description=_("tasks"))
    def task_count(self, obj: Account) -> int:
        return obj.task_count

    @admin.display(description=_("job queue"))
    def job_queue(self, obj: Account) -> str:
        return queue_summary(obj)

    @admin.display(ordering="presence", description=_("presence"))
    def presence_badge(self, obj: Account):
        return choice_badge(presence.PRESENCE_CHOICES, getattr(obj, "presence", presence.UNKNOWN))

    @admin.display(ordering="status", description=_("status"))
    def status_badge(self, obj: Account):
        return choice_badge(AccountStatus, obj.status)

    @admin.display(description=_("Yingdao last sync"))
    def yingdao_sync(self, obj: Account) -> str:
        """What the last client/list sync saw of this robot (yingdao accounts only)."""
        if obj.dispatch_backend != DispatchBackend.YINGDAO:
            return "-"
        robot = obj.yingdao_clients.order_by("-synced_at").first()
        if robot is None:
            return f"not listed by Yingdao under {obj.yingdao_account_name or '(no name)'} yet"
        return f"{robot.status or 'unknown'} ({robot.presence}) at {localtime(robot.synced_at):%Y-%m-%d %H:%M:%S}"

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            fresh = Account.objects.get(pk=obj.pk)
            services.update_account(fresh, **fields)
        else:
            created = services.create_account(
                id=obj.id,
                **{
                    name: getattr(obj, name)
                    for name in ("shadow_bot_account", "host_ip", "port", "status", "recent_app", *BACKEND_FIELDS)
                },
            )
            obj.task_control = created.task_control

    def delete_model(self, request, obj):
        services.delete_account(obj)

    def delete_queryset(self, request, queryset):
        for account in queryset:
            services.delete_account(account)
