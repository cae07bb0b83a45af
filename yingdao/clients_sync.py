"""Robot presence from Yingdao's `client/list` (paged), every RPA_YINGDAO_CLIENT_SYNC_SECONDS.

Each listed robot is kept as a `RobotClient` row. A `yingdao` account whose
`yingdao_account_name` equals a robot's `robotClientName` is that robot: when Yingdao lists it as
idle or running, that is a contact for `accounts.presence.record_contact` (last_seen_at
forward, never backwards, and the online flip announced once). Robots that match no account are offered in the admin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import presence
from accounts.models import Account, DispatchBackend
from yingdao import claims
from yingdao.client import Client, YingdaoError, is_configured
from yingdao.client import client as default_client
from yingdao.models import RobotClient

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGES = 200  # 10,000 robots: a bound, so a misbehaving `pages` cannot loop forever
LOOP_NAME = "yingdao.client_sync"

# Yingdao's client status (spellings vary by version) → presence. Others: unknown, raw kept.
PRESENCE_OF_STATUS = {
    "idle": "online",
    "free": "online",
    "online": "online",
    "running": "busy",
    "busy": "busy",
    "offline": "offline",
}
IN_CONTACT = {"online", "busy"}
# Those statuses for people (the admin shows Yingdao's own word, translated).
STATUS_LABELS = {
    "idle": _("Idle"),
    "free": _("Free"),
    "online": _("Online"),
    "running": _("Running"),
    "busy": _("Busy"),
    "offline": _("Offline"),
}


def status_label(status: str) -> str:
    """Yingdao's client status in the admin's language; an unknown spelling as Yingdao wrote it."""
    if not status:
        return str(_("unknown"))
    label = STATUS_LABELS.get(status.strip().lower())
    return str(label) if label is not None else status


@dataclass
class SyncSummary:
    listed: int = 0
    matched: int = 0
    seen: list[str] = field(default_factory=list)  # account ids in contact
    error: str = ""


def presence_of(status: str) -> str:
    return PRESENCE_OF_STATUS.get(status.strip().lower(), "unknown")


def list_all(api: Client) -> list[dict]:
    robots: list[dict] = []
    for page in range(1, MAX_PAGES + 1):
        answer = api.list_clients(page=page, size=PAGE_SIZE)
        items = [item for item in (answer.data or []) if isinstance(item, dict)]
        robots.extend(items)
        pages = (answer.page or {}).get("pages")
        if not items or (isinstance(pages, int) and page >= pages) or len(items) < PAGE_SIZE:
            break
    return robots


def record_seen(account_ids: list, now: datetime) -> list[str]:
    """Each account was heard from at `now` (presence: last_seen_at forward, never back)."""
    for account_id in account_ids:
        presence.record_contact(account_id=account_id, when=now)
    return [str(pk) for pk in account_ids]


def sync_clients(*, api: Client | None = None, now: datetime | None = None) -> SyncSummary:
    """One pass over every page of client/list (network first, then short writes)."""
    now = now or timezone.now()
    summary = SyncSummary()
    try:
        robots = list_all(api or default_client())
    except YingdaoError as exc:
        summary.error = exc.message
        logger.warning("yingdao client sync failed: %s", exc.message)
        return summary
    by_name = {
        account.yingdao_account_name: account
        for account in Account.objects.filter(dispatch_backend=DispatchBackend.YINGDAO).exclude(yingdao_account_name="")
    }
    in_contact = []
    for robot in robots:
        uuid = str(robot.get("robotClientUuid") or "").strip()
        name = str(robot.get("robotClientName") or "").strip()
        if not uuid or not name:
            continue
        summary.listed += 1
        status = str(robot.get("status") or "")[:64]
        presence = presence_of(status)
        account = by_name.get(name)
        defaults = {
            "name": name[:200],
            "status": status,
            "presence": presence,
            "client_ip": str(robot.get("clientIp") or "")[:64],
            "machine_name": str(robot.get("machineName") or "")[:200],
            "windows_user_name": str(robot.get("windowsUserName") or "")[:200],
            "description": str(robot.get("description") or "")[:500],
            "account": account,
            "synced_at": now,
        }
        if presence in IN_CONTACT:
            defaults["last_online_at"] = now
        RobotClient.objects.update_or_create(robot_client_uuid=uuid[:64], defaults=defaults)
        if account is not None:
            summary.matched += 1
            if presence in IN_CONTACT:
                in_contact.append(account.pk)
    summary.seen = record_seen(in_contact, now)
    return summary


def run_due(*, now: datetime | None = None) -> SyncSummary | None:
    """Sync when the period has passed and this process won the claim; None otherwise."""
    period = settings.RPA_YINGDAO_CLIENT_SYNC_SECONDS
    if not period:
        return None
    if not is_configured():
        return None
    now = now or timezone.now()
    if not claims.claim(LOOP_NAME, every=period, now=now):
        return None
    return sync_clients(now=now)
