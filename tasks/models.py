"""Tasks (a Yingdao app bound to a robot account) and the audit trail of control requests."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class TaskStatus(models.TextChoices):
    """The only two statuses the SPA understands.

    pending → running: the robot confirms START (webhook) — never the start request itself.
    running → pending: the robot confirms STOP, an execution completes, force-stop, or the
    watchdog loses contact.
    """

    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")


# The task fields whose changes `task_updated` reports (API.md §6).
TASK_TRACKED_FIELDS = (
    "task_name",
    "account_id",
    "app_name",
    "status",
    "last_run_time",
    "config_file",
    "config_info",
    "config_file_path",
    "config_json",
    "trigger_time",
    "remark",
    "schedule",
    "schedule_timezone",
    "next_run_at",
    "pool_id",
    "max_parallel_jobs",
)


class TaskPriority(models.TextChoices):
    """Queue order of a task's jobs on its robot (API.md §9): high first, then by age."""

    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


# The queue order of a priority (jobs and work-queue items store it as `priority_rank`).
PRIORITY_RANK = {TaskPriority.HIGH: 0, TaskPriority.NORMAL: 1, TaskPriority.LOW: 2}


class TaskQuerySet(models.QuerySet):
    def for_robot(self, shadow_bot_account: str, app_name: str, host_ip: str | None = None):
        """Tasks a robot means by (account name, app name[, host IP]), best match first.

        App names match case-insensitively. When one account name exists on several hosts and
        the robot sent no host IP, the order decides: a running task first, then the most
        recently run, then the oldest task — so the same request always picks the same task.
        """
        qs = self.filter(account__shadow_bot_account=shadow_bot_account, app_name__iexact=app_name)
        if host_ip:
            qs = qs.filter(account__host_ip=host_ip)
        return qs.select_related("account").order_by(
            models.Case(models.When(status=TaskStatus.RUNNING, then=0), default=1),
            models.F("last_run_time").desc(nulls_last=True),
            "created_at",
        )

    def match_robot(self, shadow_bot_account: str, app_name: str, host_ip: str | None = None):
        """The best match of `for_robot`, in one simple indexed query (the account by name, the
        task by `(account, lower(app_name))`, the constraint's index) with no ORDER BY to build:
        a robot has one task per app and host, so the few candidates are ordered here, by
        the same rule as `for_robot`."""
        qs = self.filter(account__shadow_bot_account=shadow_bot_account, app_name__iexact=app_name)
        if host_ip:
            qs = qs.filter(account__host_ip=host_ip)
        candidates = list(qs.select_related("account").order_by())
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        return min(candidates, key=robot_match_order)


def robot_match_order(task) -> tuple:
    """`for_robot`'s order as a sort key: running first, then most recently run, then oldest."""
    last_run = task.last_run_time.timestamp() if task.last_run_time is not None else float("inf")
    return (task.status != TaskStatus.RUNNING, -last_run if task.last_run_time else last_run, task.created_at)


class Task(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    task_name = models.CharField(_("task name"), max_length=200)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, verbose_name=_("robot account"), related_name="tasks")
    app_name = models.CharField(_("app"), max_length=200)
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    last_run_time = models.DateTimeField(_("last run"), blank=True, null=True)
    config_file = models.BooleanField(_("has config file"), default=False)
    config_info = models.BooleanField(_("has config"), default=False)
    config_file_path = models.CharField(_("config file"), max_length=500, blank=True, null=True)
    config_json = models.TextField(_("config (JSON)"), blank=True, null=True)
    trigger_time = models.DateTimeField(_("trigger time"), blank=True, null=True)
    remark = models.TextField(_("remark"), blank=True, null=True)
    # Recurring schedule (cron expression read in schedule_timezone) and its next due time.
    schedule = models.CharField(_("schedule"), max_length=100, blank=True, default="")
    schedule_timezone = models.CharField(_("schedule time zone"), max_length=64, blank=True, default="")
    next_run_at = models.DateTimeField(_("next run"), blank=True, null=True)
    # Set when a start request is claimed and cleared when the robot confirms: the START_PENDING window.
    start_requested_at = models.DateTimeField(_("start requested"), blank=True, null=True)
    # Last sign of life from the robot running this task (confirm or heartbeat), for the watchdog.
    last_seen_at = models.DateTimeField(_("last seen"), blank=True, null=True)
    # Job settings (API.md §2/§9); null timeouts fall back to the settings' defaults.
    priority = models.CharField(_("priority"), max_length=8, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    max_retries = models.PositiveSmallIntegerField(_("max retries"), default=0, validators=[MaxValueValidator(10)])
    retry_delay_seconds = models.PositiveIntegerField(_("retry delay (s)"), default=60, validators=[MaxValueValidator(86400)])
    run_timeout_seconds = models.PositiveIntegerField(_("run timeout (s)"),
        blank=True, null=True, validators=[MinValueValidator(1), MaxValueValidator(30 * 86400)]
    )
    wait_timeout_seconds = models.PositiveIntegerField(_("wait timeout (s)"),
        blank=True, null=True, validators=[MinValueValidator(1), MaxValueValidator(30 * 86400)]
    )
    # The Yingdao app's UUID, for tasks of accounts on the `yingdao` dispatch backend.
    yingdao_robot_uuid = models.CharField(_("Yingdao robot UUID"), max_length=64, blank=True, default="")
    # API.md §12: with a pool, a job runs on whichever member robot is free (the task's own robot
    # is one of them), up to max_parallel_jobs at once, each on a different robot.
    pool = models.ForeignKey(
        "pools.Pool", on_delete=models.PROTECT, null=True, blank=True, related_name="tasks", verbose_name=_("robot pool")
    )
    max_parallel_jobs = models.PositiveSmallIntegerField(
        _("max parallel jobs"), default=1, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["-created_at"]
        permissions = [("control_task", "Can start and stop tasks on robots")]
        constraints = [
            models.UniqueConstraint("account", Lower("app_name"), name="task_unique_app_per_account"),
        ]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["app_name"]),
            models.Index(fields=["trigger_time"]),
            models.Index(fields=["next_run_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.app_name})"


class ControlAction(models.TextChoices):
    START = "start", _("Start")
    STOP = "stop", _("Stop")
    FORCE_STOP = "force_stop", _("Force stop")


class ControlSource(models.TextChoices):
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    SCHEDULER = "scheduler", _("Scheduler")
    INTRANET = "intranet", _("Intranet proxy")
    WATCHDOG = "watchdog", _("Watchdog")
    RETRY = "retry", _("Retry")
    DISPATCHER = "dispatcher", _("Dispatcher")


class ControlOutcome(models.TextChoices):
    """queued (a command in its robot's outbox: jobs.outbox) → pending (leased by a sender, being
    sent) → sent | failed; skipped when refused, or when it no longer applied when leased."""

    QUEUED = "queued", _("Queued")
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class ControlRequest(models.Model):
    """One control request to a robot, kept as an audit trail even after its task is deleted."""

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, verbose_name=_("task"), on_delete=models.SET_NULL, null=True, blank=True, related_name="control_requests")
    # The job this message was about (API.md §9: every message sent to a backend, linked to its job).
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, verbose_name=_("job"), null=True, blank=True, related_name="control_requests"
    )
    # Snapshot of the target, so the row still says what it was about when the task is gone.
    shadow_bot_account = models.CharField(_("account name"), max_length=100, blank=True, default="")
    host_ip = models.CharField(_("host IP"), max_length=64, blank=True, default="")
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    app_name = models.CharField(_("app"), max_length=200, blank=True, default="")
    action = models.CharField(_("action"), max_length=16, choices=ControlAction.choices)
    target = models.CharField(_("target"), max_length=16, blank=True, default="")
    source = models.CharField(_("source"), max_length=16, choices=ControlSource.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=ControlOutcome.choices, default=ControlOutcome.PENDING)
    relay_url = models.CharField(_("relay URL"), max_length=1000, blank=True, default="")
    response_status = models.PositiveIntegerField(_("response status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    # When a sender leased it (jobs.outbox): the robot's one command in flight since then.
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("control request")
        verbose_name_plural = _("control requests")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["task", "-created_at"]),
            # The outbox: unsent commands (queued, pending) in order.
            models.Index(fields=["outcome", "created_at"], name="controlrequest_outbox"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.app_name} @ {self.shadow_bot_account} ({self.get_outcome_display()})"


class ParameterType(models.TextChoices):
    """Yingdao's app parameter types (API.md §11)."""

    STR = "str", _("Text")
    INT = "int", _("Integer")
    FLOAT = "float", _("Number")
    BOOL = "bool", _("Yes/no")
    FILE = "file", _("File")


class TaskParameter(models.Model):
    """One declared input of a task (API.md §11): what a start may pass, typed, with its default.

    Rules (names, types, defaults of the right type) live in `tasks.parameters`; a job keeps its
    own resolved copy (`Job.inputs`), so editing these never changes what a past run ran with."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="parameters", verbose_name=_("task"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=8, choices=ParameterType.choices, default=ParameterType.STR)
    required = models.BooleanField(_("required"), default=False)
    # The typed default (a JSON scalar) or null; a secret parameter's default is secret too.
    default = models.JSONField(_("default"), blank=True, null=True)
    description = models.CharField(_("description"), max_length=500, blank=True, default="")
    secret = models.BooleanField(_("secret"), default=False)

    class Meta:
        verbose_name = _("parameter")
        verbose_name_plural = _("parameters")
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["task", "name"], name="task_parameter_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"
