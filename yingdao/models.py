"""What the Yingdao backend keeps: robots seen on the tenant, callbacks waiting for their job,
and the claims that keep periodic work to one process at a time."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RobotClient(models.Model):
    """A robot (Yingdao "client") as the last `client/list` sync saw it.

    `account` is the workbench account it matched (a `yingdao` account whose
    `yingdao_account_name` is this client's name); unmatched ones are offered in the admin as
    "add as robot account".
    """

    robot_client_uuid = models.CharField(_("robot client UUID"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    status = models.CharField(
        _("Yingdao status"), max_length=64, blank=True, default="", help_text=_("as Yingdao spells it")
    )
    presence = models.CharField(_("presence"), max_length=16, blank=True, default="unknown")
    client_ip = models.CharField(_("client IP"), max_length=64, blank=True, default="")
    machine_name = models.CharField(_("machine name"), max_length=200, blank=True, default="")
    windows_user_name = models.CharField(_("Windows user name"), max_length=200, blank=True, default="")
    description = models.CharField(_("description"), max_length=500, blank=True, default="")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="yingdao_clients",
        verbose_name=_("robot account"),
    )
    last_online_at = models.DateTimeField(_("last online"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced at"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("Yingdao robot")
        verbose_name_plural = _("Yingdao robots")

    def __str__(self) -> str:
        return self.name


class PendingCallback(models.Model):
    """A callback whose jobUuid matched no job yet: its job/start may still be in flight (the
    answer carrying the jobUuid has not been stored). Applied when the start's answer is stored,
    dropped after a day."""

    job_uuid = models.CharField(_("Yingdao job UUID"), max_length=64, db_index=True)
    body = models.JSONField(_("body"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["received_at", "id"]
        verbose_name = _("pending callback")
        verbose_name_plural = _("pending callbacks")

    def __str__(self) -> str:
        return f"callback for {self.job_uuid}"


class LoopClaim(models.Model):
    """The next time a periodic pass (client sync, reconciliation) is due, claimed by a
    conditional update so that several server processes run each pass once."""

    name = models.CharField(max_length=64, primary_key=True)
    next_run_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
