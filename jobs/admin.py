"""Jobs in the admin (API.md §9): the list with its filters and the cancel / stop / retry
actions, each robot's queue, and the recent jobs shown inline on task and account pages.

Jobs are records of what happened: nobody edits one here. The actions call the job workflows of
`jobs.services` (the ones the API uses), one call per selected job, each reporting its own
outcome; they need the `tasks.control_task` permission, like starting a task. A robot's queue is
the list filtered by `?account__id__exact=<id>&queue=active`: its busy jobs first, then the
queued ones in dispatch order with their queue position.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import DispatchBackend
from jobs import dispatcher, queue, services
from jobs.admin_io import inputs_shown, outputs_shown
from jobs.models import ACTIVE, BUSY, Job, JobSource, JobStatus
from rpa_workbench.admin_buttons import PageButton, PageButtonsMixin
from rpa_workbench.admin_site import ReadOnlyAdminMixin, RecentRowsInline, recent_formset
from rpa_workbench.badges import choice_badge
from rpa_workbench.errors import ApiError
from rpa_workbench.refusals import explain_error
from rpa_workbench.timefmt import format_duration

CONTROL_PERMISSION = "tasks.control_task"
# How many jobs a task's or an account's page shows inline (newest first).
INLINE_JOBS = 10
QUEUE_PARAMETER = "queue"
RETRYABLE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELLED)
# A job's page: the list actions on that one job (rpa_workbench/admin_buttons.py).
PAGE_BUTTONS = {
    "stop": PageButton("stop_selected", _("Stop"), "stop"),
    "cancel": PageButton("cancel_selected", _("Cancel"), "cancel"),
    "retry": PageButton("retry_selected", _("Retry"), "retry"),
}


def waited_seconds(job: Job, now: datetime) -> float:
    """From creation to dispatch; still waiting → until now; never dispatched → until it ended."""
    end = job.dispatched_at or job.started_at or job.finished_at or now
    return max(0.0, (end - job.created_at).total_seconds())


def ran_seconds(job: Job, now: datetime) -> float | None:
    """From the robot's confirmation (or the dispatch) to the end, or until now while running."""
    begin = job.started_at or job.dispatched_at
    if begin is None:
        return None
    return max(0.0, ((job.finished_at or now) - begin).total_seconds())


@admin.display(ordering="status", description=_("status"))
def status_badge(obj: Job):
    return choice_badge(JobStatus, obj.status)


@admin.display(description=_("waited"))
def waited(obj: Job) -> str:
    return format_duration(waited_seconds(obj, timezone.now()))


@admin.display(description=_("ran"))
def ran(obj: Job) -> str:
    return format_duration(ran_seconds(obj, timezone.now()))


def queue_url(account_id) -> str:
    return reverse("admin:jobs_job_changelist") + "?" + urlencode({"account__id__exact": account_id, QUEUE_PARAMETER: "active"})


def queue_summary(account) -> str:
    """For the account page: how many of its jobs run and wait, and a link to its queue."""
    if account is None or account.pk is None:
        return "-"
    jobs = Job.objects.filter(account_id=account.pk)
    busy = jobs.filter(status__in=BUSY).count()
    queued = jobs.filter(status=JobStatus.QUEUED, any_robot=False).count()  # a pool's waiting jobs are its pool's
    text = gettext("%(busy)d running, %(queued)d queued — open the queue") % {"busy": busy, "queued": queued}
    return format_html('<a href="{}">{}</a>', queue_url(account.pk), text)


class QueueFilter(admin.SimpleListFilter):
    """`queue=active`: only active jobs, busy ones first, then the queued in dispatch order."""

    title = _("queue")
    parameter_name = QUEUE_PARAMETER

    def lookups(self, request, model_admin):
        return [("active", _("Active jobs in dispatch order"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            queryset = queryset.filter(status__in=ACTIVE)
            if "account__id__exact" in request.GET:  # a robot's queue: not the jobs waiting for any robot of a pool
                queryset = queryset.exclude(status=JobStatus.QUEUED, any_robot=True)
        return queryset


@admin.register(Job)
class JobAdmin(PageButtonsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id", status_badge, "reason", "robot", "task_name", "priority", "source",
        "queue_position", waited, ran, "created_at",
    ]  # fmt: skip  (every column; get_list_display picks those of the page)
    list_display_links = ["short_id", "task_name"]
    list_filter = [QueueFilter, "status", "source", "priority", ("account", admin.RelatedOnlyFieldListFilter),
                   ("task", admin.RelatedOnlyFieldListFilter), ("pool", admin.RelatedOnlyFieldListFilter)]  # fmt: skip
    search_fields = ["=id", "task_name", "app_name", "shadow_bot_account", "host_ip"]
    list_select_related = ["account", "task", "pool"]
    readonly_fields = [status_badge, waited, ran, "queue_position", "backend_label", inputs_shown, outputs_shown]
    fieldsets = [
        (None, {"fields": [status_badge, "reason", "message", "task", "account", "task_name", "app_name",
                           "shadow_bot_account", "host_ip", "pool", "any_robot"]}),
        (_("Queue"), {"fields": ["priority", "source", "requested_by", "queue_position", "attempt", "retry_of",
                                 "not_before", "run_timeout_seconds", "wait_timeout_seconds"]}),
        (_("Inputs and outputs"), {"fields": [inputs_shown, outputs_shown]}),  # secrets masked
        (_("Dispatch"), {"fields": ["backend_label", "external_id", "execution_log"]}),
        (_("Timing"), {"fields": ["created_at", "dispatched_at", "started_at", "finished_at", waited, ran, "updated_at"]}),
    ]  # fmt: skip
    page_buttons = PAGE_BUTTONS
    control_label = _("Control this job")
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected", "stop_selected", "retry_selected"]
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        """Annotated with `queue_rank` (busy 0, else 1) before the ordering that may use it."""
        busy_first = Case(When(status__in=BUSY, then=Value(0)), default=Value(1), output_field=IntegerField())
        queryset = self.model._default_manager.get_queryset().annotate(queue_rank=busy_first)
        return queryset.order_by(*(self.get_ordering(request) or ()))

    def get_list_display(self, request):
        """A robot's queue shows what orders it (priority, position); the full list what happened
        (reason, source, run time) — each fits a 1280 px screen."""
        if request.GET.get(QUEUE_PARAMETER) == "active":
            return ["short_id", status_badge, "robot", "task_name", "priority", "queue_position", waited, "created_at"]
        return ["short_id", status_badge, "reason", "robot", "task_name", "source", waited, ran, "created_at"]

    def get_ordering(self, request):
        if request.GET.get(QUEUE_PARAMETER) == "active":
            return ["queue_rank", "priority_rank", "created_at"]
        return super().get_ordering(request)

    # -- columns ----------------------------------------------------------------------------
    @admin.display(description=_("job"), ordering="id")
    def short_id(self, obj: Job) -> str:
        return str(obj.pk)[:8]

    @admin.display(description=_("robot"), ordering="shadow_bot_account")
    def robot(self, obj: Job) -> str:
        """The account name, its host IP under it (two tokens that never break inside); a pool
        job still waiting for any robot: its pool."""
        if obj.status == JobStatus.QUEUED and obj.any_robot and obj.pool_id:
            pool = obj.pool.name if obj.pool else "-"
            return format_html('{}<span class="cell-sub">{}</span>', gettext("any robot"), gettext("pool %(name)s") % {"name": pool})
        if not obj.host_ip:
            return obj.shadow_bot_account
        return format_html('{}<span class="cell-sub">{}</span>', obj.shadow_bot_account, obj.host_ip)

    @admin.display(description=_("queue position"))
    def queue_position(self, obj: Job) -> int | str:
        return queue.position(obj) or "-"

    @admin.display(description=_("backend"))
    def backend_label(self, obj: Job) -> str:
        return str(dict(DispatchBackend.choices).get(obj.backend, obj.backend))

    def buttons_for(self, obj: Job) -> list[str]:
        """Only the buttons that apply to the job as it is now (each action refuses the rest)."""
        if obj.status == JobStatus.QUEUED:
            return ["cancel"]
        if obj.status in BUSY:
            return ["stop"]
        return ["retry"] if obj.status in RETRYABLE else []

    # -- actions through jobs.services ------------------------------------------------------
    def has_control_permission(self, request) -> bool:
        return request.user.has_perm(CONTROL_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        # Django silently ignores an action it does not offer; a forged control action is a 403.
        forged = set(request.POST.getlist("action")) & set(self.actions) if request.method == "POST" else set()
        if forged and not self.has_control_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Cancel selected queued jobs"), permissions=["control"])
    def cancel_selected(self, request, queryset):
        self._each(request, queryset, lambda job: services.cancel_job(job=job, user=request.user), _("cancelled"))

    @admin.action(description=_("Stop selected jobs (a queued one is cancelled)"), permissions=["control"])
    def stop_selected(self, request, queryset):
        stop = lambda job: services.stop_job(job=job, source=JobSource.ADMIN, user=request.user)[0]  # noqa: E731
        self._each(request, queryset, stop, _("stop requested"))

    @admin.action(description=_("Retry selected jobs (a new queued job each)"), permissions=["control"])
    def retry_selected(self, request, queryset):
        created = self._each(request, queryset, lambda job: services.retry_job(job=job, user=request.user), _("retried"))
        if created:
            dispatcher.dispatch_pending()

    def _each(self, request, queryset, act: Callable[[Job], Job], done: str) -> int:
        """One call per job; a refusal for one job does not stop the others. Returns successes."""
        if not self.has_control_permission(request):
            raise PermissionDenied
        succeeded = 0
        for job in queryset.select_related("account", "task").order_by("created_at"):
            label = f"{job.task_name} ({job.shadow_bot_account}, {str(job.pk)[:8]})"
            try:
                result = act(job)
            except ApiError as exc:
                level = messages.WARNING if exc.status_code == 409 else messages.ERROR
                now = Job.objects.filter(pk=job.pk).first()
                reason = explain_error(exc, status_label=now.get_status_display().lower() if now else None)
                self.message_user(request, gettext("%(subject)s: refused: %(reason)s") % {"subject": label, "reason": reason}, level)
                continue
            succeeded += 1
            suffix = f" → {str(result.pk)[:8]}" if result.pk != job.pk else ""
            self.message_user(request, f"{label}: {done}{suffix} ({result.get_status_display()})", messages.SUCCESS)
        if succeeded > 1:
            self.message_user(request, ngettext("%d job done.", "%d jobs done.", succeeded) % succeeded)
        return succeeded


class RecentJobInline(RecentRowsInline):
    """A task's or an account's latest jobs (read-only); the full history is in the Jobs list.

    Columns are named (not callables) so each has a CSS class: phones show fewer of them."""

    model = Job
    formset = recent_formset(INLINE_JOBS)
    fields = ["created_at", "status_badge", "reason", "app_name", "priority", "source", "attempt", "waited", "ran"]
    readonly_fields = fields
    status_badge = staticmethod(status_badge)
    waited = staticmethod(waited)
    ran = staticmethod(ran)
    verbose_name_plural = format_lazy(_("recent jobs (latest {count})"), count=INLINE_JOBS)
