"""Robot accounts: a Yingdao account name running on one host (IP and port)."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountStatus(models.TextChoices):
    """Result of the latest activity on the account.

    pending → running (robot confirmed a start / sent a heartbeat)
    running → completed | failed (execution finished; failed also when the watchdog lost it)
    any → pending (stop confirmed, force-stop)
    """

    PENDING = "pending", _("Pending")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    RUNNING = "running", _("Running")


class DispatchBackend(models.TextChoices):
    """How a job reaches the robot (API.md §9.3)."""

    RELAY = "relay", _("Relay")
    YINGDAO = "yingdao", _("Yingdao Open API")


class AccountQuerySet(models.QuerySet):
    def for_robot(self, shadow_bot_account: str, host_ip: str | None = None):
        """Accounts a robot means by its name (and host IP when it sent one), best match first.

        One name may exist on several hosts; without a host IP the order decides, the same way
        every time: a running account first, then the one heard from most recently, then the oldest.
        """
        qs = self.filter(shadow_bot_account=shadow_bot_account)
        if host_ip:
            qs = qs.filter(host_ip=host_ip)
        return qs.order_by(
            models.Case(models.When(status=AccountStatus.RUNNING, then=0), default=1),
            models.F("last_heartbeat_at").desc(nulls_last=True),
            "created_at",
        )

    def match_robot(self, shadow_bot_account: str, host_ip: str | None = None):
        return self.for_robot(shadow_bot_account, host_ip).first()
class PresenceState(models.TextChoices):
    """The presence last announced for a robot (stored, so each flip is announced once).

    unknown → online (first contact); online → offline (silent for RPA_PRESENCE_TIMEOUT,
    accounts.presence.sweep_presence); offline → online (a contact, accounts.presence.record_contact).
    Written only by accounts/presence.py, each change a compare-and-set.
    """

    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")
    UNKNOWN = "unknown", _("Unknown")


def task_control_of(shadow_bot_account: str, host_ip: str, port: int) -> str:
    return f"{shadow_bot_account}-{host_ip}:{port}"


class Account(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    shadow_bot_account = models.CharField(_("account name"), max_length=100)
    host_ip = models.GenericIPAddressField(_("host IP"))
    port = models.PositiveIntegerField(_("port"), validators=[MinValueValidator(1), MaxValueValidator(65535)])
    status = models.CharField(_("status"), max_length=16, choices=AccountStatus.choices, default=AccountStatus.PENDING)
    recent_app = models.CharField(_("recent app"), max_length=200, blank=True, null=True)
    end_time = models.DateTimeField(_("end time"), blank=True, null=True)
    # Derived from name, IP and port (see save); unique, so duplicates fail in the database.
    task_control = models.CharField(_("task control"), max_length=200, unique=True, editable=False)
    last_heartbeat_at = models.DateTimeField(_("last heartbeat"), blank=True, null=True)
    # The robot's last contact of any kind (heartbeat, confirm, report, the backend's robot list).
    last_seen_at = models.DateTimeField(_("last seen"), blank=True, null=True)
    # The robot's last idle heartbeat (a heartbeat naming no app, docs/robots.md). A relay robot
    # that never sent one reports only while running: quiet, it is `unknown`, not `offline`.
    idle_heartbeat_at = models.DateTimeField(_("last idle heartbeat"), blank=True, null=True, editable=False)
    presence_state = models.CharField(_("announced presence"),
        max_length=16, choices=PresenceState.choices, default=PresenceState.UNKNOWN, editable=False
    )
    max_concurrent_jobs = models.PositiveSmallIntegerField(_("max concurrent jobs"),
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    dispatch_backend = models.CharField(_("dispatch backend"), max_length=16, choices=DispatchBackend.choices, default=DispatchBackend.RELAY)
    yingdao_account_name = models.CharField(_("Yingdao account name"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("robot account")
        verbose_name_plural = _("robot accounts")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["shadow_bot_account"]),
            models.Index(fields=["status"]),
            models.Index(fields=["host_ip"]),
            models.Index(fields=["last_seen_at"]),
            models.Index(fields=["presence_state", "last_seen_at"]),
        ]

    def __str__(self) -> str:
        return self.task_control or self.shadow_bot_account

    def save(self, *args, **kwargs):
        self.task_control = task_control_of(self.shadow_bot_account, self.host_ip, self.port)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"shadow_bot_account", "host_ip", "port"} & set(update_fields):
            kwargs["update_fields"] = set(update_fields) | {"task_control"}
        super().save(*args, **kwargs)
