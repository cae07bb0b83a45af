"""Robot presence (API.md §1): online | busy | offline | unknown, from `last_seen_at`.

- `record_contact` is called on every robot contact (heartbeat, confirm, execution report, a
  backend's robot list): one conditional UPDATE moves `last_seen_at` forward.
- `with_presence` derives the presence of every account of a queryset in the same query (an
  annotation), so listing, filtering and counting robots never polls them one by one.
- `presence_state` stores the presence last *announced* (online / offline / unknown). A robot
  coming back (`record_contact`) or falling silent (`sweep_presence`, run by the embedded loop)
  flips it with a compare-and-set, so of several processes exactly one announces each flip.
  `announce` is the single place a flip is published; apps above hook into it through
  `FLIP_HOOKS` (alerts, from its AppConfig.ready).
- This module sits below jobs/ (jobs records contacts through it), so it imports neither jobs/
  nor alerts/: the jobs that make a robot busy are named by `settings.RPA_PRESENCE_BUSY_JOBS`
  (docs/architecture.md, "Layering").
- Relay robots report only while running unless their listener sends the idle heartbeat
  (`POST /webhook/heartbeat` naming no app, stamped as `idle_heartbeat_at`). Quiet, a robot
  that never sent one is `unknown` (we cannot tell idle from gone), not `offline`, so it never
  raises `robot_offline`; one that did, or a Yingdao robot (its client list includes idle
  robots), is `offline`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Case, CharField, Count, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, DispatchBackend, PresenceState
from rpa_workbench import embedded, events

logger = logging.getLogger(__name__)

ONLINE, BUSY, OFFLINE, UNKNOWN = "online", "busy", "offline", "unknown"
PRESENCE_CHOICES = [
    (ONLINE, _("Online")),
    (BUSY, _("Busy")),
    (OFFLINE, _("Offline")),
    (UNKNOWN, _("Unknown")),
]
PRESENCE_VALUES = [value for value, _label in PRESENCE_CHOICES]


def clock() -> datetime:
    """The presence clock (tests replace it to move time without sleeping)."""
    return timezone.now()


def timeout() -> timedelta:
    return timedelta(seconds=settings.RPA_PRESENCE_TIMEOUT)


@functools.cache
def _static_cases() -> tuple[When, ...]:
    """The parts of the presence CASE that do not depend on the moment, built once: a list page
    then resolves them rather than building them (Django copies an expression to resolve it).

    - never heard from: unknown;
    - something of this account is running: busy (a job dispatched, running or stopping, API.md
      §1: `RPA_PRESENCE_BUSY_JOBS` names the job model and its busy statuses)."""
    never_seen = When(last_seen_at__isnull=True, then=Value(UNKNOWN))
    busy_jobs = getattr(settings, "RPA_PRESENCE_BUSY_JOBS", None)
    if not busy_jobs:
        return (never_seen,)
    model, statuses = busy_jobs
    jobs = apps.get_model(model).objects.filter(account_id=OuterRef("pk"), status__in=import_string(statuses))
    return never_seen, When(Exists(jobs), then=Value(BUSY))


def reports_only_while_running() -> Q:
    """Robots whose silence says nothing: relay robots that never sent an idle heartbeat."""
    return Q(idle_heartbeat_at__isnull=True, dispatch_backend=DispatchBackend.RELAY)


def presence_expression(now: datetime) -> Case:
    """The SQL CASE deriving presence at `now`."""
    never_seen, *running = _static_cases()
    quiet = Q(last_seen_at__lt=now - timeout())
    return Case(
        never_seen,
        When(quiet & reports_only_while_running(), then=Value(UNKNOWN)),
        When(quiet, then=Value(OFFLINE)),
        *running,
        default=Value(ONLINE),
        output_field=CharField(),
    )


def with_presence(queryset: QuerySet | None = None, *, now: datetime | None = None) -> QuerySet:
    """Annotate `presence` on each account (one query, whatever the number of robots)."""
    queryset = Account.objects.all() if queryset is None else queryset
    return queryset.annotate(presence=presence_expression(now or clock()))


def filter_presence(queryset: QuerySet, value: str, *, now: datetime | None = None) -> QuerySet:
    if "presence" not in queryset.query.annotations:
        queryset = with_presence(queryset, now=now)
    return queryset.filter(presence=value)


def presence_counts(*, now: datetime | None = None) -> dict[str, int]:
    """Robots per presence (every key present), one grouped query: the dashboard's card."""
    rows = with_presence(Account.objects.order_by(), now=now).values("presence").annotate(count=Count("pk"))
    counts = dict.fromkeys(PRESENCE_VALUES, 0)
    counts.update({row["presence"]: row["count"] for row in rows})
    return counts


@dataclass(frozen=True)
class Flip:
    """One announced change of a robot's presence."""

    account: Account
    before: str
    after: str  # the derived presence now: online, busy or offline


# Called with (flip, now) inside the transaction of every announced flip (alerts appends its
# `presence_flipped` in AlertsConfig.ready), so what they write commits with the flip.
FLIP_HOOKS: list[Callable[[Flip, datetime], None]] = []


def record_contact(*, account_id, when: datetime | None = None, idle: bool = False) -> Flip | None:
    """The robot was heard from at `when` (default now). Returns the flip when it came online.

    `idle`: the contact is an idle heartbeat (the robot says it runs nothing): stamped as
    `idle_heartbeat_at`, so from now on its silence means offline.

    A contact publishes no event of its own (only a presence flip does): `last_seen_at` and
    `idle_heartbeat_at` are contact times, which the account list shows exact to the cached
    reads' time bucket (rpa_workbench/list_cache.py, docs/architecture.md "Cached reads"). An
    event per heartbeat would reach every browser and move every cached read's key."""
    when = when or clock()
    rows = Account.objects.filter(pk=account_id)
    if idle:
        rows.filter(Q(idle_heartbeat_at__isnull=True) | Q(idle_heartbeat_at__lt=when)).update(idle_heartbeat_at=when)
    newer = Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=when)
    # The usual case: already announced online, one conditional UPDATE.
    if rows.filter(newer, presence_state=PresenceState.ONLINE).update(last_seen_at=when):
        return None
    if clock() - when >= timeout():
        rows.filter(newer).update(last_seen_at=when)  # an old sighting: history, not presence
        return None
    before = rows.exclude(presence_state=PresenceState.ONLINE).values_list("presence_state", flat=True).first()
    if before is None:
        rows.filter(newer).update(last_seen_at=when)  # missing, or another process just flipped it
        return None
    with transaction.atomic():  # the flip and its alert commit together; its event moves the key
        claimed = rows.filter(presence_state=before).update(
            presence_state=PresenceState.ONLINE, last_seen_at=Case(When(newer, then=Value(when)), default="last_seen_at")
        )
        if not claimed:
            return None
        return announce(account_id, before)


def sweep_presence(now: datetime | None = None) -> list[Flip]:
    """Flip robots announced online but silent past RPA_PRESENCE_TIMEOUT to offline — or to
    unknown when their silence says nothing (reports_only_while_running) — once each."""
    now = now or clock()
    cutoff = now - timeout()
    silent = Account.objects.filter(presence_state=PresenceState.ONLINE, last_seen_at__lt=cutoff)
    flips = []
    for account_id, unknowable in silent.annotate(
        unknowable=Case(When(reports_only_while_running(), then=Value(True)), default=Value(False), output_field=BooleanField())
    ).values_list("pk", "unknowable"):
        after = PresenceState.UNKNOWN if unknowable else PresenceState.OFFLINE
        with transaction.atomic():  # the flip and its alert commit together
            if silent.filter(pk=account_id).update(presence_state=after):
                flips.append(announce(account_id, PresenceState.ONLINE, now=now))
    return flips


def announce(account_id, before: str, *, now: datetime | None = None) -> Flip:
    """Publish a flip this process won: `account_updated {presence}` (after commit)."""
    account = with_presence(Account.objects.filter(pk=account_id), now=now).get()
    flip = Flip(account=account, before=str(before), after=account.presence)
    events.publish_account_updated(account, {"presence": account.presence})
    for hook in FLIP_HOOKS:
        hook(flip, now or clock())
    logger.info("robot %s is now %s (was %s)", account.task_control, flip.after, flip.before)
    return flip


def run_forever(*, stop: threading.Event, interval: float | None = None) -> None:
    """The sweep loop the embedded thread runs (until `stop` is set; never raises)."""
    interval = settings.RPA_SCHEDULER_INTERVAL if interval is None else interval
    embedded.repeat(sweep_presence, name="presence sweep", interval=interval, stop=stop)
