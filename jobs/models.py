"""Jobs (API.md §9): one run of one task on its robot, from the start request to its end.

The statuses and the transitions allowed between them are declared here, once (`TRANSITIONS`);
`jobs.transitions` is the only module that moves a job (and so a task's and an account's status).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tasks.models import PRIORITY_RANK, TaskPriority


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DISPATCHED = "dispatched", _("Dispatched")
    RUNNING = "running", _("Running")
    STOPPING = "stopping", _("Stopping")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    STOPPED = "stopped", _("Stopped")
    CANCELLED = "cancelled", _("Cancelled")


# Every allowed move, and nothing else: a transition not listed here is refused (409).
TRANSITIONS: dict[str, frozenset[str]] = {
    # A queued job never ran: it cannot complete or fail (a late report is about an earlier run).
    JobStatus.QUEUED: frozenset({JobStatus.DISPATCHED, JobStatus.RUNNING, JobStatus.CANCELLED}),
    JobStatus.DISPATCHED: frozenset(
        {JobStatus.RUNNING, JobStatus.STOPPING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED}
    ),
    JobStatus.RUNNING: frozenset({JobStatus.STOPPING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.STOPPING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.STOPPED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

# A job holding one of its robot's slots (at most Account.max_concurrent_jobs of them).
BUSY = (JobStatus.DISPATCHED, JobStatus.RUNNING, JobStatus.STOPPING)
# A task has at most one active job (API.md §2).
ACTIVE = (JobStatus.QUEUED, *BUSY)
FINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELLED)
# The task's derived status: `running` while its job is confirmed running or being stopped.
TASK_RUNNING = (JobStatus.RUNNING, JobStatus.STOPPING)


def allowed(current: str, new: str) -> bool:
    return new in TRANSITIONS[current]


class JobReason(models.TextChoices):
    ROBOT_REPORTED_FAILURE = "robot_reported_failure", _("Robot reported a failure")
    ROBOT_REPORTED_TIMEOUT = "robot_reported_timeout", _("Robot reported a timeout")
    RUN_TIMEOUT = "run_timeout", _("Run timeout")
    WAIT_TIMEOUT = "wait_timeout", _("Wait timeout")
    NEVER_CONFIRMED = "never_confirmed", _("Never confirmed")
    LOST_CONTACT = "lost_contact", _("Lost contact")
    ROBOT_RESTARTED = "robot_restarted", _("Robot restarted (reported idle)")
    DISPATCH_FAILED = "dispatch_failed", _("Dispatch failed")
    CANCELLED = "cancelled", _("Cancelled")
    FORCE_STOPPED = "force_stopped", _("Force stopped")


# Ends that are followed by a retry while attempts remain (API.md §9); never dispatch_failed.
RETRIED_REASONS = frozenset(
    {
        JobReason.ROBOT_REPORTED_FAILURE,
        JobReason.ROBOT_REPORTED_TIMEOUT,
        JobReason.RUN_TIMEOUT,
        JobReason.NEVER_CONFIRMED,
        JobReason.LOST_CONTACT,
        JobReason.ROBOT_RESTARTED,
    }
)


class JobSource(models.TextChoices):
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    SCHEDULER = "scheduler", _("Scheduler")
    INTRANET = "intranet", _("Intranet proxy")
    RETRY = "retry", _("Retry")
    ROBOT = "robot", _("Robot (started on the robot)")
    QUEUE = "queue", _("Work queue trigger")


def robot_columns(account) -> dict:
    """The columns a job takes from the robot it is sent to: a pool job's dispatch to the member
    that claimed it, a queued job following its task to another robot (jobs.rebinding)."""
    return {"account_id": account.pk, "shadow_bot_account": account.shadow_bot_account,
            "host_ip": account.host_ip, "backend": account.dispatch_backend}


def snapshot_of(task, priority: str) -> dict:
    """The columns a new job copies from its task and robot, so that it still says what ran where
    after the task or the account is edited or deleted."""
    account = task.account
    return {
        "task": task,
        "account": account,
        "task_name": task.task_name,
        "shadow_bot_account": account.shadow_bot_account,
        "host_ip": account.host_ip,
        "app_name": task.app_name,
        "priority": priority,
        "priority_rank": PRIORITY_RANK[priority],
        "pool_id": task.pool_id,
    }


class Job(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(
        "tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs", verbose_name=_("task")
    )
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs",
        verbose_name=_("robot account"),
    )
    # Snapshots, so a job still says what it was after its task or account is deleted.
    task_name = models.CharField(_("task name"), max_length=200, blank=True, default="")
    shadow_bot_account = models.CharField(_("account name"), max_length=100, blank=True, default="")
    host_ip = models.CharField(_("host IP"), max_length=64, blank=True, default="")
    app_name = models.CharField(_("app"), max_length=200, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    reason = models.CharField(_("reason"), max_length=32, choices=JobReason.choices, blank=True, null=True)
    priority = models.CharField(_("priority"), max_length=8, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    # 0 high, 1 normal, 2 low: the queue orders by it, then by created_at (one index).
    priority_rank = models.PositiveSmallIntegerField(_("priority rank"), default=1)
    source = models.CharField(_("source"), max_length=16, choices=JobSource.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )
    backend = models.CharField(_("backend"), max_length=16, default="relay")
    external_id = models.CharField(_("external ID"), max_length=100, blank=True, null=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries", verbose_name=_("retry of")
    )
    not_before = models.DateTimeField(_("not before"), blank=True, null=True)
    run_timeout_seconds = models.PositiveIntegerField(_("run timeout (s)"))
    wait_timeout_seconds = models.PositiveIntegerField(_("wait timeout (s)"))
    message = models.TextField(_("message"), blank=True, default="")
    # API.md §12: the pool of a pool task's job (kept after it ran, for the Jobs list's filter).
    # `any_robot`: while queued, any free member of that pool may take it; `account` is then only
    # provisional (the task's own robot) and the claim sets the robot that takes it.
    pool = models.ForeignKey(
        "pools.Pool", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs", verbose_name=_("robot pool")
    )
    any_robot = models.BooleanField(_("any robot of the pool"), default=False)
    # API.md §11 (jobs.inputs): the resolved inputs [{name, type, value, secret}] it was started
    # with (null: a run we did not start), and the outputs {name: value} the run reported.
    inputs = models.JSONField(_("inputs"), blank=True, null=True)
    outputs = models.JSONField(_("outputs"), blank=True, null=True)
    execution_log = models.ForeignKey(
        "executionlogs.ExecutionLog", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs",
        verbose_name=_("execution log"),
    )
    created_at = models.DateTimeField(_("created"), db_index=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), blank=True, null=True)
    started_at = models.DateTimeField(_("started at"), blank=True, null=True)
    finished_at = models.DateTimeField(_("finished at"), blank=True, null=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        indexes = [
            # The queue: a robot's queued jobs in dispatch order; and its busy slots.
            models.Index(fields=["account", "status", "priority_rank", "created_at"], name="job_queue"),
            models.Index(fields=["task", "status"], name="job_task_status"),
            # A pool's queue: the jobs any of its robots may take, in dispatch order.
            models.Index(fields=["pool", "any_robot", "status", "priority_rank", "created_at"], name="job_pool_queue"),
            # A report's ended run (jobs.reports): the task's jobs that ended since the report's
            # start, without reading the task's whole history.
            models.Index(fields=["task", "finished_at"], name="job_task_finished"),
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["external_id"], name="job_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.app_name} @ {self.shadow_bot_account} · {self.get_status_display()} ({str(self.pk)[:8]})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE
