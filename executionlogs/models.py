"""The execution history robots report through the execution-complete webhook."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from rpa_workbench.timefmt import display_datetime


class ExecutionStatus(models.TextChoices):
    """Final result of one run; a robot's `timeout` is stored as failed (and said in `text`)."""

    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class ExecutionLog(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    text = models.TextField(_("text"), blank=True, default="")
    # Own copies of who ran what: history survives deleting the task or the account.
    app_name = models.CharField(_("app"), max_length=200)
    shadow_bot_account = models.CharField(_("account name"), max_length=100)
    host_ip = models.CharField(_("host IP"), max_length=64, blank=True, null=True)
    status = models.CharField(_("status"), max_length=16, choices=ExecutionStatus.choices)
    start_time = models.DateTimeField(_("start time"), )
    end_time = models.DateTimeField(_("end time"), blank=True, null=True)
    duration = models.FloatField(_("duration (s)"), blank=True, null=True)
    log_info = models.BooleanField(_("has log"), default=False)
    screenshot = models.BooleanField(_("has screenshot"), default=False)
    screenshot_path = models.CharField(_("screenshot location"), max_length=1000, blank=True, null=True)
    log_content = models.CharField(_("log location"), max_length=1000, blank=True, null=True)
    result_summary = models.JSONField(_("result summary"), blank=True, null=True)
    # Optional id the robot sends; a repeat delivery with the same id is the same execution.
    execution_id = models.CharField(_("execution ID"), max_length=100, blank=True, null=True)
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("robot account"), on_delete=models.SET_NULL, null=True, blank=True, related_name="execution_logs"
    )
    task = models.ForeignKey(
        "tasks.Task", verbose_name=_("task"), on_delete=models.SET_NULL, null=True, blank=True, related_name="execution_logs"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("execution log")
        verbose_name_plural = _("execution logs")
        ordering = ["-start_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["shadow_bot_account", "app_name", "start_time"], name="execlog_unique_execution"
            ),
            models.UniqueConstraint(
                fields=["execution_id"],
                condition=models.Q(execution_id__isnull=False),
                name="execlog_unique_execution_id",
            ),
        ]
        indexes = [
            # Covering the dashboard: day/month buckets read status and duration from the index.
            models.Index(fields=["start_time", "status", "duration"], name="execlog_start_status_duration"),
            models.Index(fields=["status", "start_time"], name="execlog_status_start"),
            models.Index(fields=["app_name", "start_time", "duration"], name="execlog_app_start_duration"),
            models.Index(fields=["shadow_bot_account", "start_time"], name="execlog_account_start"),
            models.Index(fields=["host_ip", "start_time"], name="execlog_host_start"),
            models.Index(fields=["end_time"], name="execlog_end_time"),
            models.Index(fields=["created_at"], name="execlog_created_at"),
            models.Index(fields=["duration"], name="execlog_duration"),
        ]

    def __str__(self) -> str:
        return f"{self.app_name} @ {self.shadow_bot_account} · {self.get_status_display()} {display_datetime(self.start_time)}"
