"""Tasks and their control requests in the admin.

Tasks are created, changed and deleted through `tasks.editing` (the functions the API uses, so
the same events go out) and started/stopped through the job functions with source `admin`, one
call per selected task, each reporting its own outcome as an admin message (starts are queued
jobs the dispatcher sends). `status` is never
editable here: it changes only through control and the robot's webhooks.

Control requests are an audit trail: read-only for everyone, shown inline on a task's page
(the most recent ones) and in their own list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from executionlogs.admin import RecentTaskExecutionsInline
from jobs import dispatcher, outbox, task_control
from jobs import services as job_services
from jobs.admin import RecentJobInline
from jobs.models import Job
from resources.signing import link_problem
from rpa_workbench.admin_site import NullsLastAdminMixin, ReadOnlyAdminMixin, RecentRowsInline, recent_formset
from rpa_workbench.errors import ApiError
from rpa_workbench.fields import year_problem
from rpa_workbench.parsers import JSONValueError, loads_json_text
from tasks import editing
from tasks.admin_page import TaskPageMixin
from tasks.models import ControlRequest, ControlSource, Task, TaskStatus
from tasks.schedules import ScheduleError, validate_schedule
from tasks.serializers import TRIGGER_TIME_SLACK
from yingdao import rules

CONTROL_PERMISSION = "tasks.control_task"
# How many control requests a task's page shows inline (newest first); the rest are in their list.
INLINE_CONTROL_REQUESTS = 20
# Fields the form edits; everything else on a task is written by control, webhooks or the scheduler.
EDITABLE_FIELDS = [
    "task_name",
    "account",
    "app_name",
    "config_file",
    "config_info",
    "config_file_path",
    "config_json",
    "trigger_time",
    "schedule",
    "schedule_timezone",
    "remark",
    "yingdao_robot_uuid",
]


def _queue_start(*, task: Task, source: str, user) -> Job:
    return job_services.start_job(task=task, source=source, user=user, inline=False).job


def account_label(task: Task) -> str:
    account = task.account
    return f"{account.shadow_bot_account}@{account.host_ip}:{account.port}"


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = EDITABLE_FIELDS
        widgets = {"config_json": forms.Textarea(attrs={"rows": 6, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The scheduler clears a fired trigger_time. Whether the user changed it is judged against
        # the value the page showed (a hidden copy), not the row now, so an untouched field
        # never re-arms a one-shot that fired while the form was open.
        if "trigger_time" in self.fields:  # not for users who may only view
            self.fields["trigger_time"].show_hidden_initial = True

    def clean_config_json(self) -> str | None:
        text = self.cleaned_data.get("config_json")
        if text is None or not text.strip():
            return None
        try:
            loads_json_text(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                gettext("Must be valid JSON (%(problem)s at line %(line)s column %(column)s).")
                % {"problem": exc.msg, "line": exc.lineno, "column": exc.colno}
            ) from None
        except JSONValueError as exc:
            raise forms.ValidationError(gettext("Must be storable JSON: %(problem)s.") % {"problem": exc}) from None
        return text

    def clean_config_file_path(self) -> str | None:
        value = self.cleaned_data.get("config_file_path")
        problem = link_problem(value) if value else None
        if problem:
            raise forms.ValidationError(f"{problem[0].upper()}{problem[1:]}.")
        return value

    def clean_trigger_time(self):
        value = self.cleaned_data.get("trigger_time")
        problem = year_problem(value)
        if problem:
            raise forms.ValidationError(f"{problem[0].upper()}{problem[1:]}.")
        unchanged = not self.instance._state.adding and value == self.instance.trigger_time
        if value is not None and not unchanged and value < timezone.now() - TRIGGER_TIME_SLACK:
            raise forms.ValidationError(_("Must be in the future (leave it empty to start the task by hand)."))
        return value

    def clean(self):
        data = super().clean()
        self._clean_schedule(data)
        self._clean_binding(data)
        if "account" in data and "yingdao_robot_uuid" in data:
            errors = rules.task_errors(account=data["account"], yingdao_robot_uuid=data["yingdao_robot_uuid"])
            for field, message in errors.items():
                self.add_error(field, message)
        return data

    def _clean_schedule(self, data: dict) -> None:
        if "schedule" not in data or "schedule_timezone" not in data:
            return  # a field error is already shown
        try:
            data["schedule"] = validate_schedule(data["schedule"] or "", data["schedule_timezone"] or "")
        except ScheduleError as exc:
            self.add_error(exc.field, exc.message)

    def _clean_binding(self, data: dict) -> None:
        account, app_name = data.get("account"), data.get("app_name")
        if account is None or not app_name:
            return
        instance = self.instance
        adding = instance._state.adding
        if not adding and instance.status == TaskStatus.RUNNING:
            moved = [
                name
                for name, new, old in (
                    ("account", account.pk, instance.account_id),
                    ("app_name", app_name.lower(), (instance.app_name or "").lower()),
                )
                if new != old
            ]
            if moved:
                for name in moved:
                    self.add_error(name, _("The task is running: stop it before changing this."))
                return
        try:
            editing.ensure_unique_app(account, app_name, exclude_pk=None if adding else instance.pk)
        except ApiError as exc:
            self.add_error("app_name", exc.message)


READ_ONLY_REQUEST_FIELDS = [
    "created_at",
    "action",
    "source",
    "requested_by",
    "outcome",
    "target",
    "response_status",
    "latency_ms",
    "error",
    "confirmed_at",
]


class ControlRequestInline(RecentRowsInline):
    model = ControlRequest
    formset = recent_formset(INLINE_CONTROL_REQUESTS)
    fields = READ_ONLY_REQUEST_FIELDS
    readonly_fields = READ_ONLY_REQUEST_FIELDS
    verbose_name_plural = format_lazy(_("recent control requests (latest {count})"), count=INLINE_CONTROL_REQUESTS)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")


@admin.register(Task)
class TaskAdmin(TaskPageMixin, NullsLastAdminMixin, admin.ModelAdmin):
    form = TaskForm
    list_display = [
        "task_name", "account_display", "app_name", "status_badge", "schedule", "next_run_at", "trigger_time",
        "last_run_time",
    ]
    list_filter = ["status", ("account__host_ip", admin.AllValuesFieldListFilter)]
    search_fields = ["task_name", "app_name", "account__shadow_bot_account", "account__host_ip"]
    list_select_related = ["account"]
    autocomplete_fields = ["account"]
    readonly_fields = [
        "id",
        "status",
        "last_run_time",
        "start_requested_at",
        "last_seen_at",
        "next_run_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "task_name", "account", "app_name", "remark"]}),
        (_("Configuration"), {"fields": ["config_file", "config_info", "config_file_path", "config_json"]}),
        (_("Scheduling"), {"fields": ["trigger_time", "schedule", "schedule_timezone", "next_run_at"]}),
        (_("Yingdao backend (accounts on the Yingdao Open API)"), {"fields": ["yingdao_robot_uuid"]}),
        (
            _("State (changes only through control and the robot)"),
            {
                "fields": [
                    "status",
                    "last_run_time",
                    "start_requested_at",
                    "last_seen_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    ordering = ["-created_at"]
    inlines = [RecentJobInline, RecentTaskExecutionsInline, ControlRequestInline]
    actions = ["start_selected", "stop_selected", "force_stop_selected"]
    show_facets = admin.ShowFacets.NEVER

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new task has no control requests yet

    @admin.display(ordering="account__shadow_bot_account", description=_("account"))
    def account_display(self, obj: Task) -> str:
        return account_label(obj)

    # -- editing through the domain functions ---------------------------------------------
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form checks everything first; what it cannot see — a duplicate created or a start
        confirmed since it was validated — comes back from `tasks.editing` as an ApiError after
        the transaction rolled back: say so instead of a 500."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApiError as exc:
            self.message_user(request, gettext("Not saved: %(reason)s.") % {"reason": exc.message}, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        if change:
            fresh = Task.objects.select_related("account").get(pk=obj.pk)
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
            # The form normalises the schedule; send it whenever the time zone changed too.
            if "schedule_timezone" in changes:
                changes["schedule"] = form.cleaned_data["schedule"]
            saved = editing.update_task(task=fresh, changes=changes, user=request.user)
        else:
            fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
            saved = editing.create_task(fields={"id": obj.id, **fields}, user=request.user)
        for field in Task._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def delete_model(self, request, obj):
        editing.delete_task(task=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for task in queryset:
            editing.delete_task(task=task, user=request.user)

    # -- control actions ------------------------------------------------------------------
    def has_control_permission(self, request) -> bool:
        return request.user.has_perm(CONTROL_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        # Django silently ignores an action it does not offer; a forged control action is a 403.
        forged = (
            set(request.POST.getlist("action")) & set(self.actions) if request.method == "POST" else set()
        )
        if forged and not self.has_control_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Start selected tasks"), permissions=["control"])
    def start_selected(self, request, queryset):
        """Each start is a queued job; the dispatcher sends them (in its pool, not one after
        another here), so fifty tasks return at once whatever the relay does."""
        self._control(request, queryset, _queue_start, _("start"), self._queued_message)
        dispatcher.dispatch_pending()

    @admin.action(description=_("Stop selected tasks"), permissions=["control"])
    def stop_selected(self, request, queryset):
        """Each job moves to stopping here; its stop is queued for the dispatcher (jobs.outbox),
        which sends them in its pool: no backend call in this request."""
        self._control(request, queryset, partial(task_control.stop_task, deferred=True), _("stop"), self._sent_message)
        outbox.send_pending()

    @admin.action(description=_("Force stop selected tasks (mark pending now)"), permissions=["control"])
    def force_stop_selected(self, request, queryset):
        self._control(
            request, queryset, partial(task_control.force_stop_task, deferred=True), _("force stop"), self._force_stop_message
        )
        outbox.send_pending()

    def _control(self, request, queryset, control: Callable[..., ControlRequest], verb: str, report) -> None:
        """One call per task; a refusal or relay error for one task does not stop the others."""
        if not self.has_control_permission(request):
            raise PermissionDenied
        for task in queryset.select_related("account").order_by("task_name", "pk"):
            label = gettext("%(task)s (%(account)s, app %(app)s)") % {
                "task": task.task_name, "account": account_label(task), "app": task.app_name
            }
            try:
                sent = control(task=task, source=ControlSource.ADMIN, user=request.user)
            except ApiError as exc:
                level, text = self._error_message(exc, verb)
            else:
                level, text = report(sent, verb)
            self.message_user(request, gettext("%(subject)s: %(outcome)s") % {"subject": label, "outcome": text}, level)

    @staticmethod
    def _queued_message(job: Job, verb: str) -> tuple[int, str]:
        return messages.SUCCESS, (
            gettext("start request sent to the dispatcher (job %(job)s); waiting for the robot to confirm.")
            % {"job": job.pk}
        )

    @staticmethod
    def _sent_message(sent: ControlRequest | Job, verb: str) -> tuple[int, str]:
        if isinstance(sent, Job):
            return messages.SUCCESS, gettext("the job was queued, not running: cancelled (job %(job)s).") % {"job": sent.pk}
        return messages.SUCCESS, gettext(
            "%(action)s request sent to the dispatcher (job %(job)s); waiting for the robot to confirm."
        ) % {"action": verb, "job": sent.job_id}

    @staticmethod
    def _force_stop_message(sent: ControlRequest | Job, verb: str) -> tuple[int, str]:
        if isinstance(sent, Job):
            return messages.SUCCESS, gettext("the job was queued, not running: cancelled (job %(job)s).") % {"job": sent.pk}
        return messages.SUCCESS, gettext(
            "marked pending (task and account); stop request sent to the dispatcher, which delivers it "
            "to the robot (see the control requests for the outcome)."
        )

    @staticmethod
    def _error_message(exc: ApiError, verb: str) -> tuple[int, str]:
        if exc.status_code == 409:
            return messages.WARNING, gettext("%(action)s refused: %(reason)s.") % {"action": verb, "reason": exc.message}
        if exc.status_code == 404:
            return messages.WARNING, gettext("%(action)s refused: the task no longer exists.") % {"action": verb}
        # 502 relay failure / 503 relay not configured: nothing changed, the failure is recorded.
        return messages.ERROR, gettext("%(action)s failed, task unchanged: %(reason)s.") % {"action": verb, "reason": exc.message}


@admin.register(ControlRequest)
class ControlRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "source",
        "outcome",
        "task",
        "shadow_bot_account",
        "host_ip",
        "port",
        "app_name",
        "requested_by",
        "response_status",
        "latency_ms",
        "confirmed_at",
    ]
    list_filter = ["action", "source", "outcome"]
    search_fields = [
        "=id",
        "app_name",
        "shadow_bot_account",
        "host_ip",
        "task__task_name",
        "requested_by__username",
        "error",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["task", "requested_by"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
