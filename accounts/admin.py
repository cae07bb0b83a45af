"""Robot accounts in the admin: presence and status as badges, recent runs on each page.

Presence is derived in the list query (accounts.presence.with_presence), so the list and its
filter cost one query whatever the number of robots.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import presence, services
from accounts.models import Account, AccountStatus, DispatchBackend
from executionlogs.admin import RecentAccountExecutionsInline
from jobs.admin import RecentJobInline, queue_summary
from rpa_workbench.admin_site import NullsLastAdminMixin
from rpa_workbench.badges import badge, choice_badge
from rpa_workbench.errors import ApiError
from rpa_workbench.refusals import explain_error
from rpa_workbench.timefmt import display_datetime
from yingdao import rules
from yingdao.clients_sync import status_label

# The dispatch backend (API.md §9.3) and what the Yingdao one needs (yingdao/rules.py).
BACKEND_FIELDS = ["dispatch_backend", "yingdao_account_name"]


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["shadow_bot_account", "host_ip", "port", "status", "recent_app", "max_concurrent_jobs", *BACKEND_FIELDS]
        help_texts = {
            "shadow_bot_account": _("The Yingdao (影刀) account name the robot signs in with, as it reports it."),
            "host_ip": _("The IP address of the robot's machine; the relay forwards control requests to it."),
            "port": _("The port of the robot's listener on that machine (1–65535)."),
            "max_concurrent_jobs": _(
                "Jobs this robot runs at once (1–10); further starts wait in its queue. "
                "Must be 1 for the relay backend, whose stop ends everything the robot runs."
            ),
            "dispatch_backend": _("How robots are controlled: the HTTP relay (default) or Yingdao's Open API."),
            "yingdao_account_name": _("For the Yingdao backend: the robot's name as Yingdao's client list shows it."),
            "recent_app": _("The app the robot ran last (robots report it)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dispatch_backend"].required = False  # left out = relay, as before the field existed
        if "max_concurrent_jobs" in self.fields:
            self.fields["max_concurrent_jobs"].required = False  # left out = as before (1 for a new robot)

    def clean_max_concurrent_jobs(self) -> int:
        value = self.cleaned_data.get("max_concurrent_jobs")
        return self.instance.max_concurrent_jobs if value is None else value

    def clean_dispatch_backend(self) -> str:
        return self.cleaned_data.get("dispatch_backend") or DispatchBackend.RELAY

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                existing_pk = None if self.instance._state.adding else self.instance.pk
                services.ensure_unique(data["shadow_bot_account"], data["host_ip"], data["port"], exclude_pk=existing_pk)
            except ApiError as exc:
                raise forms.ValidationError(explain_error(exc)) from None
            backend = data.get("dispatch_backend") or DispatchBackend.RELAY
            if backend == DispatchBackend.RELAY and data.get("max_concurrent_jobs", 1) != 1:
                self.add_error("max_concurrent_jobs", _("Must be 1 for the relay backend: its stop ends everything the robot runs."))
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
        "id", "shadow_bot_account", "host_ip", "port", "status", "recent_app", "max_concurrent_jobs", *BACKEND_FIELDS,
        *readonly_fields[1:],
    ]  # fmt: skip
    ordering = ["-created_at"]
    inlines = [RecentJobInline, RecentAccountExecutionsInline]

    def get_readonly_fields(self, request, obj=None):
        """Status and recent app are the robots' once the account exists (see services.OWNED_FIELDS)."""
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "status", "recent_app"]

    def get_fields(self, request, obj=None):
        """A new account's page shows no id and none of what robots report later."""
        if obj is not None:
            return self.fields
        return ["shadow_bot_account", "host_ip", "port", "max_concurrent_jobs", *BACKEND_FIELDS]

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
            return gettext("not listed by Yingdao under %(name)s yet") % {"name": obj.yingdao_account_name or "-"}
        return gettext("%(status)s (%(presence)s) at %(time)s") % {
            "status": status_label(robot.status),
            "presence": dict(presence.PRESENCE_CHOICES).get(robot.presence, robot.presence),
            "time": display_datetime(robot.synced_at, seconds=True),
        }

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
                    for name in ("shadow_bot_account", "host_ip", "port", "status", "recent_app", "max_concurrent_jobs",
                                 *BACKEND_FIELDS)
                },
            )
            obj.task_control = created.task_control

    def delete_model(self, request, obj):
        services.delete_account(obj)

    def delete_queryset(self, request, queryset):
        for account in queryset:
            services.delete_account(account)
