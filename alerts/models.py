"""Alert channels, the alerts raised, and their deliveries (the outbox the worker sends from).

Statuses and their allowed transitions live here; the workflows are in `alerts.services` (raise,
channel edits, test send) and `alerts.worker` (claim, send, record).
"""

from __future__ import annotations

import uuid

from django.db import models


class AlertEvent(models.TextChoices):
    JOB_FAILED = "job_failed", "Job failed"
    JOB_STOPPED_BY_TIMEOUT = "job_stopped_by_timeout", "Job stopped by timeout"
    ROBOT_OFFLINE = "robot_offline", "Robot offline"
    ROBOT_ONLINE = "robot_online", "Robot online"
    ROBOT_LOST = "robot_lost", "Robot lost (running job lost contact)"
    DISPATCH_FAILED = "dispatch_failed", "Dispatch failed"
    QUEUE_WAIT_EXCEEDED = "queue_wait_exceeded", "Queue wait exceeded"
    SCHEDULE_SKIPPED = "schedule_skipped", "Schedule skipped"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    DINGTALK = "dingtalk", "DingTalk robot"
    WECOM = "wecom", "WeCom (企业微信) robot"
    FEISHU = "feishu", "Feishu (飞书) robot"
    EMAIL = "email", "Email"


class DeliveryStatus(models.TextChoices):
    """pending → sent (a 2xx / accepted) | pending again (retry later) | failed (last attempt)."""

    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Channel(models.Model):
    """Where operators want to be told. `secret` is write-only: no serializer or form shows it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    # An http(s) URL, or for email a comma list of addresses (validated in alerts.targets).
    target = models.TextField()
    secret = models.CharField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    # A subset of AlertEvent values; empty = no event (the channel only answers tests).
    events = models.JSONField(default=list, blank=True)
    # Empty = every robot.
    accounts = models.ManyToManyField("accounts.Account", blank=True, related_name="alert_channels")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Alert(models.Model):
    """Something operators must hear about, raised once per change of state."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=32, choices=AlertEvent.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField()
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    task = models.ForeignKey("tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    # The job it is about (a plain UUID until the jobs app is in main).
    job_id = models.UUIDField(null=True, blank=True, db_index=True)
    # What the message was made from (robot, app, reason, ...), frozen so every retry sends the same.
    context = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.event} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class Delivery(models.Model):
    """One alert to one channel. `id` is sent as X-RPA-Delivery: the same on every retry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=AlertEvent.choices)
    message = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # A worker's lease on the row while it sends; expired leases are claimed again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["channel", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel_id} ({self.status})"
