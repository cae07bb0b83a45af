"""Jobs (API.md §9): one run of one task on its robot, from the start request to its end.

The statuses and the transitions allowed between them are declared here, once (`TRANSITIONS`);
`jobs.transitions` is the only module that moves a job (and so a task's and an account's status).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from tasks.models import TaskPriority


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DISPATCHED = "dispatched", "Dispatched"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"
    CANCELLED = "cancelled", "Cancelled"


# Every allowed move, and nothing else: a transition not listed here is refused (409).
TRANSITIONS: dict[str, frozenset[str]] = {
    JobStatus.QUEUED: frozenset(
        {JobStatus.DISPATCHED, JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.COMPLETED}
    ),
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
    ROBOT_REPORTED_FAILURE = "robot_reported_failure", "Robot reported a failure"
    ROBOT_REPORTED_TIMEOUT = "robot_reported_timeout", "Robot reported a timeout"
    RUN_TIMEOUT = "run_timeout", "Run timeout"
    WAIT_TIMEOUT = "wait_timeout", "Wait timeout"
    NEVER_CONFIRMED = "never_confirmed", "Never confirmed"
    LOST_CONTACT = "lost_contact", "Lost contact"
    DISPATCH_FAILED = "dispatch_failed", "Dispatch failed"
    CANCELLED = "cancelled", "Cancelled"
    FORCE_STOPPED = "force_stopped", "Force stopped"


# Ends that are followed by a retry while attempts remain (API.md §9); never dispatch_failed.
RETRIED_REASONS = frozenset(
    {
        JobReason.ROBOT_REPORTED_FAILURE,
        JobReason.ROBOT_REPORTED_TIMEOUT,
        JobReason.RUN_TIMEOUT,
        JobReason.NEVER_CONFIRMED,
        JobReason.LOST_CONTACT,
    }
)


class JobSource(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SCHEDULER = "scheduler", "Scheduler"
    INTRANET = "intranet", "Intranet proxy"
    RETRY = "retry", "Retry"
    ROBOT = "robot", "Robot (started on the robot)"


PRIORITY_RANK = {TaskPriority.HIGH: 0, TaskPriority.NORMAL: 1, TaskPriority.LOW: 2}


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey("tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    # Snapshots, so a job still says what it was after its task or account is deleted.
    task_name = models.CharField(max_length=200, blank=True, default="")
    shadow_bot_account = models.CharField(max_length=100, blank=True, default="")
    host_ip = models.CharField(max_length=64, blank=True, default="")
    app_name = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    reason = models.CharField(max_length=32, choices=JobReason.choices, blank=True, null=True)
    priority = models.CharField(max_length=8, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    # 0 high, 1 normal, 2 low: the queue orders by it, then by created_at (one index).
    priority_rank = models.PositiveSmallIntegerField(default=1)
    source = models.CharField(max_length=16, choices=JobSource.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    backend = models.CharField(max_length=16, default="relay")
    external_id = models.CharField(max_length=100, blank=True, null=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    retry_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries")
    not_before = models.DateTimeField(blank=True, null=True)
    run_timeout_seconds = models.PositiveIntegerField()
    wait_timeout_seconds = models.PositiveIntegerField()
    message = models.TextField(blank=True, default="")
    execution_log = models.ForeignKey(
        "executionlogs.ExecutionLog", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    created_at = models.DateTimeField(db_index=True)
    dispatched_at = models.DateTimeField(blank=True, null=True)
    started_at = models.DateTimeField(blank=True, null=True)
    finished_at = models.DateTimeField(blank=True, null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The queue: a robot's queued jobs in dispatch order; and its busy slots.
            models.Index(fields=["account", "status", "priority_rank", "created_at"], name="job_queue"),
            models.Index(fields=["task", "status"], name="job_task_status"),
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["external_id"], name="job_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.app_name}@{self.shadow_bot_account} {self.status} ({self.pk})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE
