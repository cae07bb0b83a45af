"""Alert channels, the alerts raised, and their deliveries (the outbox the worker sends from).

Statuses and their allowed transitions live here; the workflows are in `alerts.services` (raise,
channel edits, test send) and `alerts.worker` (claim, send, record).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rpa_workbench.timefmt import display_datetime


class AlertEvent(models.TextChoices):
    JOB_FAILED = "job_failed", _("Job failed")
    JOB_STOPPED_BY_TIMEOUT = "job_stopped_by_timeout", _("Job stopped by timeout")
    ROBOT_OFFLINE = "robot_offline", _("Robot offline")
    ROBOT_ONLINE = "robot_online", _("Robot online")
    ROBOT_LOST = "robot_lost", _("Robot lost (running job lost contact)")
    DISPATCH_FAILED = "dispatch_failed", _("Dispatch failed")
    QUEUE_WAIT_EXCEEDED = "queue_wait_exceeded", _("Queue wait exceeded")
    SCHEDULE_SKIPPED = "schedule_skipped", _("Schedule skipped")
    QUEUE_SLA_BREACHED = "queue_sla_breached", _("Work queue SLA breached")
    QUEUE_ITEM_FAILED = "queue_item_failed", _("Work queue item failed")


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook (signed JSON)")
    DINGTALK = "dingtalk", _("DingTalk robot")
    WECOM = "wecom", _("WeCom (企业微信) robot")
    FEISHU = "feishu", _("Feishu (飞书) robot")
    EMAIL = "email", _("Email")


class DeliveryStatus(models.TextChoices):
    """pending → sent (a 2xx / accepted) | pending again (retry later) | failed (last attempt)."""

    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Channel(models.Model):
    """Where operators want to be told. `secret` is write-only: no serializer or form shows it."""

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    # An http(s) URL, or for email a comma list of addresses (validated in alerts.targets).
    target = models.TextField(_("target"))
    secret = models.CharField(_("secret"), max_length=500, blank=True, default="")
    enabled = models.BooleanField(_("enabled"), default=True)
    # A subset of AlertEvent values; empty = no event (the channel only answers tests).
    events = models.JSONField(_("events"), default=list, blank=True)
    # Empty = every robot.
    accounts = models.ManyToManyField(
        "accounts.Account", blank=True, related_name="alert_channels", verbose_name=_("robot accounts")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("alert channel")
        verbose_name_plural = _("alert channels")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Alert(models.Model):
    """Something operators must hear about, raised once per change of state."""

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(_("event"), max_length=32, choices=AlertEvent.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField(_("message"))
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts",
        verbose_name=_("robot account"),
    )
    task = models.ForeignKey(
        "tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts", verbose_name=_("task")
    )
    # The job it is about (a plain UUID until the jobs app is in main).
    job_id = models.UUIDField(_("job"), null=True, blank=True, db_index=True)
    # What the message was made from (robot, app, reason, ...), frozen so every retry sends the same.
    context = models.JSONField(_("context"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self) -> str:
        return gettext("%(event)s at %(time)s") % {
            "event": self.get_event_display(), "time": display_datetime(self.occurred_at, seconds=True)
        }


class Delivery(models.Model):
    """One alert to one channel. `id` is sent as X-RPA-Delivery: the same on every retry."""

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("alert"))
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("channel"))
    event = models.CharField(_("event"), max_length=32, choices=AlertEvent.choices)
    message = models.TextField(_("message"))
    status = models.CharField(_("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    # A worker's lease on the row while it sends; expired leases are claimed again.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    last_status = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["channel", "-created_at"]),
        ]

    def __str__(self) -> str:
        """The alert's event to the channel by name (not its UUID), and where the delivery is."""
        channel = self.channel.name if self.channel_id else "-"
        return gettext("%(event)s → %(channel)s (%(status)s)") % {
            "event": self.get_event_display(), "channel": channel, "status": self.get_status_display()
        }
