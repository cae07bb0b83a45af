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

from collections.abc import Callable
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from executionlogs.admin import RecentTaskExecutionsInline
from jobs import dispatcher, outbox, queue, task_control
from jobs import services as job_services
from jobs.admin import RecentJobInline
from jobs.models import Job, JobStatus
from resources import services as resource_services
from resources.signing import signed_resource_url
from rpa_workbench.admin_site import NullsLastAdminMixin, ReadOnlyAdminMixin, RecentRowsInline, recent_formset
from rpa_workbench.errors import ApiError
from rpa_workbench.refusals import explain_error, explain_stored
from tasks import editing
from tasks.admin_form import EDITABLE_FIELDS, JOB_FIELDS, POOL_FIELDS, TaskForm
from tasks.admin_inputs import TaskInputsMixin, TaskParameterInline
from tasks.admin_page import TaskPageMixin
from tasks.models import ControlRequest, ControlSource, Task

CONTROL_PERMISSION = "tasks.control_task"
# How many control requests a task's page shows inline (newest first); the rest are in their list.
INLINE_CONTROL_REQUESTS = 20


def _queue_start(*, task: Task, source: str, user) -> Job:
    return job_services.start_job(task=task, source=source, user=user, inline=False).job


def account_label(task: Task) -> str:
    account = task.account
    return f"{account.shadow_bot_account}@{account.host_ip}:{account.port}"


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


@admin.display(description=_("error"))
def error_display(obj: ControlRequest) -> str:
    """A refusal stored as `CODE: message`, in the admin's language (rpa_workbench.refusals)."""
    return explain_stored(obj.error) or "-"


@admin.display(ordering="shadow_bot_account", description=_("robot"))
def robot_display(obj: ControlRequest) -> str:
    if not obj.host_ip:
        return obj.shadow_bot_account
    return format_html('{}<span class="cell-sub">{}:{}</span>', obj.shadow_bot_account, obj.host_ip, obj.port)


class ControlRequestInline(RecentRowsInline):
    model = ControlRequest
    formset = recent_formset(INLINE_CONTROL_REQUESTS)
    fields = ["error_display" if name == "error" else name for name in READ_ONLY_REQUEST_FIELDS]
    readonly_fields = fields
    error_display = staticmethod(error_display)
    verbose_name_plural = format_lazy(_("recent control requests (latest {count})"), count=INLINE_CONTROL_REQUESTS)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")


@admin.register(Task)
class TaskAdmin(TaskInputsMixin, TaskPageMixin, NullsLastAdminMixin, admin.ModelAdmin):
    form = TaskForm
    list_display = [
        "task_name", "account_display", "app_name", "status_badge", "schedule", "next_run_at", "trigger_time",
        "last_run_time",
    ]
    list_filter = ["status", ("account__host_ip", admin.AllValuesFieldListFilter)]
    search_fields = ["task_name", "app_name", "account__shadow_bot_account", "account__host_ip"]
    list_select_related = ["account"]
    autocomplete_fields = ["account", "pool"]
    readonly_fields = [
        "id",
        "status",
        "last_run_time",
        "start_requested_at",
        "last_seen_at",
        "next_run_at",
        "created_at",
        "updated_at",
        "config_file_link",
    ]
    fieldsets = [
        (None, {"fields": ["id", "task_name", "account", "app_name", "remark"]}),
        (_("Configuration"), {"fields": ["config_info", "config_json", "config_upload", "config_file", "config_file_path",
                                         "config_file_link"]}),
        (_("Scheduling"), {"fields": ["trigger_time", "schedule", "schedule_timezone", "next_run_at"]}),
        (_("Jobs: queue order, retries and timeouts"), {"fields": JOB_FIELDS}),
        (_("Robot pool"), {"fields": POOL_FIELDS}),
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
    inlines = [TaskParameterInline, RecentJobInline, RecentTaskExecutionsInline, ControlRequestInline]
    actions = ["start_selected", "start_with_inputs", "stop_selected", "force_stop_selected"]
    show_facets = admin.ShowFacets.NEVER

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new task has no control requests yet

    def get_fieldsets(self, request, obj=None):
        """A new task's page shows no id (it is made when saved), no stored file and no state yet."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            return fieldsets
        hidden = {"id", "config_file_link", "next_run_at", "status", "last_run_time", "start_requested_at",
                  "last_seen_at", "created_at", "updated_at"}  # fmt: skip
        kept = [(name, {**options, "fields": [f for f in options["fields"] if f not in hidden]}) for name, options in fieldsets]
        return [(name, options) for name, options in kept if options["fields"]]

    @admin.display(ordering="account__shadow_bot_account", description=_("account"))
    def account_display(self, obj: Task) -> str:
        account = obj.account
        return format_html('{}<span class="cell-sub">{}:{}</span>', account.shadow_bot_account, account.host_ip, account.port)

    @admin.display(description=_("stored config file"))
    def config_file_link(self, obj: Task):
        url = signed_resource_url(obj.config_file_path) if obj.config_file_path else None
        if url is None:
            return obj.config_file_path or "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj.config_file_path.rsplit("/", 1)[-1])

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
        upload = form.cleaned_data.get("config_upload")
        if upload:
            saved = resource_services.store_config_for_task(task=saved, upload=upload).task
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
        another here), so fifty tasks return at once whatever the relay does. The claim here
        waits for a robot's row rather than skipping it: the embedded dispatcher may be claiming
        the same job, and the message must say where the job is once that claim commits."""
        self._control(
            request, queryset, _queue_start, _("start"), self._started_message,
            then=partial(dispatcher.dispatch_pending, skip_locked=False),  # waits out the embedded dispatcher's claim
        )

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

    def _control(self, request, queryset, control: Callable[..., ControlRequest], verb: str, report, then=None) -> None:
        """One call per task; a refusal or relay error for one task does not stop the others.
        `then` runs after every call and before the messages (the start's dispatch), so each
        message says where its job is now."""
        if not self.has_control_permission(request):
            raise PermissionDenied
        results = []
        for task in queryset.select_related("account").order_by("task_name", "pk"):
            label = gettext("%(task)s (%(account)s, app %(app)s)") % {
                "task": task.task_name, "account": account_label(task), "app": task.app_name
            }
            try:
                results.append((label, None, control(task=task, source=ControlSource.ADMIN, user=request.user)))
            except ApiError as exc:
                results.append((label, exc, None))
        if then is not None:
            then()
        for label, exc, sent in results:
            level, text = self._error_message(exc, verb) if exc is not None else report(sent, verb)
            self.message_user(request, gettext("%(subject)s: %(outcome)s") % {"subject": label, "outcome": text}, level)

    @staticmethod
    def _started_message(job: Job, verb: str) -> tuple[int, str]:
        """Where the new job is now: queued (at which position), sent, or already refused."""
        job.refresh_from_db()
        if job.status == JobStatus.QUEUED:
            return messages.SUCCESS, gettext(
                "queued at position %(position)s in the robot's queue (job %(job)s); it is sent when the robot is free."
            ) % {"position": queue.position(job) or "-", "job": str(job.pk)[:8]}
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return messages.ERROR, gettext("the job ended %(status)s: %(reason)s (job %(job)s).") % {
                "status": job.get_status_display(), "reason": job.get_reason_display() or "-", "job": str(job.pk)[:8]
            }
        return messages.SUCCESS, gettext(
            "start request sent to the robot (job %(job)s); waiting for the robot to confirm."
        ) % {"job": str(job.pk)[:8]}

    @staticmethod
    def _pool_message(sent: list, verb: str) -> tuple[int, str]:
        """A pool task's stop acts on each of its jobs, on every robot running one (API.md §12)."""
        return messages.SUCCESS, ngettext(
            "%(action)s requested for %(count)d job of the pool task; the dispatcher delivers it.",
            "%(action)s requested for %(count)d jobs of the pool task; the dispatcher delivers them.", len(sent),
        ) % {"action": verb, "count": len(sent)}

    @classmethod
    def _sent_message(cls, sent: ControlRequest | Job | list, verb: str) -> tuple[int, str]:
        if isinstance(sent, list):
            return cls._pool_message(sent, verb)
        if isinstance(sent, Job):
            return messages.SUCCESS, gettext("the job was queued, not running: cancelled (job %(job)s).") % {"job": sent.pk}
        return messages.SUCCESS, gettext(
            "%(action)s request sent to the dispatcher (job %(job)s); waiting for the robot to confirm."
        ) % {"action": verb, "job": sent.job_id}

    @classmethod
    def _force_stop_message(cls, sent: ControlRequest | Job | list, verb: str) -> tuple[int, str]:
        if isinstance(sent, list):
            return cls._pool_message(sent, verb)
        if isinstance(sent, Job):
            return messages.SUCCESS, gettext("the job was queued, not running: cancelled (job %(job)s).") % {"job": sent.pk}
        return messages.SUCCESS, gettext(
            "marked pending (task and account); stop request sent to the dispatcher, which delivers it "
            "to the robot (see the control requests for the outcome)."
        )

    @staticmethod
    def _error_message(exc: ApiError, verb: str) -> tuple[int, str]:
        if exc.status_code == 409:
            return messages.WARNING, gettext("%(action)s refused: %(reason)s.") % {"action": verb, "reason": explain_error(exc)}
        if exc.status_code == 404:
            return messages.WARNING, gettext("%(action)s refused: the task no longer exists.") % {"action": verb}
        # 502 relay failure / 503 relay not configured: nothing changed, the failure is recorded.
        return messages.ERROR, gettext("%(action)s failed, task unchanged: %(reason)s.") % {
            "action": verb, "reason": explain_error(exc)
        }


@admin.register(ControlRequest)
class ControlRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at", "action", "source", "outcome", "task", "app_name", robot_display, "requested_by", error_display,
    ]  # fmt: skip
    fields = [
        "created_at", "action", "target", "source", "outcome", "task", "job", "shadow_bot_account", "host_ip", "port",
        "app_name", "requested_by", "relay_url", "response_status", "latency_ms", error_display, "confirmed_at",
    ]  # fmt: skip
    readonly_fields = [error_display]
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
