"""The delivery worker (healthchecks' sendalerts): claim a due delivery, send it, record the result.

- Claim: a conditional UPDATE that succeeds only while the row is still pending, due and not
  leased (`claimed_until` empty or past), setting a lease. Of several workers (one embedded in
  each server process, or `manage.py run_alerts`), exactly one wins each row; a worker that dies
  mid-send leaves a lease that expires, and the row is claimed again.
- Send: outside any transaction, in a small thread pool, one delivery per channel at a time, each
  bounded by RPA_ALERT_CONNECT_TIMEOUT / RPA_ALERT_TIMEOUT: a hanging channel holds one thread,
  never another channel's delivery and never a request.
- Record: sent, or retried after BACKOFF[attempt] (1 min, 5 min, 30 min, 2 h, 6 h), then failed
  with the last status and error; written only while our lease still holds.

Every function takes `now`, so tests drive the clock.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Min, Q
from django.utils import timezone

from alerts import channels
from alerts.channels.base import SendResult
from alerts.models import Delivery, DeliveryStatus
from rpa_workbench import embedded

logger = logging.getLogger(__name__)

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# How long a claim keeps other workers off a row: longer than any send can take.
LEASE = timedelta(minutes=2)


def lease() -> timedelta:
    """LEASE, or more when the send time limits allow a longer send."""
    longest = 4 * (settings.RPA_ALERT_CONNECT_TIMEOUT + settings.RPA_ALERT_TIMEOUT)
    return max(LEASE, timedelta(seconds=longest))


def _available(now: datetime) -> Q:
    """Due and not leased: columns of the row itself only, so the claim's UPDATE is a plain
    compare-and-set (PostgreSQL re-checks it on the row a concurrent claim just changed)."""
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def claim(delivery_id, now: datetime) -> Delivery | None:
    """Lease one delivery; None when another worker has it (or it is no longer due)."""
    lease_end = now + lease()
    if not Delivery.objects.filter(_available(now), pk=delivery_id).update(claimed_until=lease_end):
        return None
    delivery = Delivery.objects.select_related("channel", "alert").filter(pk=delivery_id).first()
    return delivery


def claim_due(now: datetime, limit: int, busy_channels: frozenset = frozenset()) -> list[Delivery]:
    """Claim the oldest due delivery of each of up to `limit` channels (the channels waiting
    longest first), none for a channel in `busy_channels` (one this worker is still sending to).

    Chosen per channel, so a channel with a long backlog (one that hangs) never fills the
    choice and keeps the others waiting."""
    # A disabled channel's deliveries wait (they go out if it is enabled again).
    due = Delivery.objects.filter(_available(now), channel__enabled=True)
    waiting = (
        due.exclude(channel_id__in=busy_channels)
        .values("channel_id")
        .annotate(oldest=Min("next_attempt_at"))
        .order_by("oldest")
        .values_list("channel_id", flat=True)
    )
    claimed = [claim_next(channel_id, now) for channel_id in list(waiting[:limit])]
    return [delivery for delivery in claimed if delivery is not None]


def claim_next(channel_id, now: datetime) -> Delivery | None:
    """Claim the oldest due delivery of one channel; None when it has none (left)."""
    due = Delivery.objects.filter(_available(now), channel_id=channel_id, channel__enabled=True)
    for delivery_id in due.order_by("next_attempt_at", "created_at").values_list("pk", flat=True)[:5]:
        delivery = claim(delivery_id, now)
        if delivery is not None:  # else another worker took it: try the next one
            return delivery
    return None


def record(delivery: Delivery, result: SendResult, now: datetime) -> str:
    """Store the outcome of one attempt under our lease; returns the new status."""
    attempts = delivery.attempts + 1
    fields: dict = {"attempts": F("attempts") + 1, "claimed_until": None, "last_status": result.status}
    if result.ok:
        status = DeliveryStatus.SENT
        fields.update(status=status, sent_at=now, last_error="")
    elif attempts >= MAX_ATTEMPTS:
        status = DeliveryStatus.FAILED
        fields.update(status=status, last_error=result.error)
    else:
        status = DeliveryStatus.PENDING
        fields.update(next_attempt_at=now + BACKOFF[attempts - 1], last_error=result.error)
    updated = Delivery.objects.filter(pk=delivery.pk, claimed_until=delivery.claimed_until).update(**fields)
    if not updated:
        logger.warning("alert delivery %s: lease lost before its result was recorded", delivery.pk)
        return delivery.status
    log = logger.info if result.ok else logger.warning
    log(
        "alert delivery %s (%s to channel %s) attempt %d: %s%s",
        delivery.pk,
        delivery.event,
        delivery.channel.name,
        attempts,
        status,
        f" ({result.error})" if result.error else "",
    )
    return status


# A pool thread sends at most this many of one channel's due deliveries in a row, then gives
# the thread back (the next pass claims the rest).
BURST = 20


def deliver(delivery: Delivery, clock=timezone.now, stopping: threading.Event | None = None) -> str:
    """Send one claimed delivery and record the result, then the channel's next due ones (a
    burst of alerts is not spaced by the worker's interval) until `stopping` is set; in a pool
    thread, no transaction."""
    try:
        status = ""
        for _ in range(BURST):
            status = record(delivery, channels.send(delivery), clock())
            if stopping is not None and stopping.is_set():
                return status
            delivery = claim_next(delivery.channel_id, clock())
            if delivery is None:
                break
        else:
            Delivery.objects.filter(pk=delivery.pk, claimed_until=delivery.claimed_until).update(claimed_until=None)
        return status
    finally:
        connection.close()  # pool threads are reused: never keep a connection between sends


def run_once(now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Claim and send every delivery due at `now` (at most `limit`), one after another, in this
    thread (tests, `run_alerts --once`). A failed attempt is due again only later, so this ends."""
    now = now or timezone.now()
    statuses: list[str] = []
    while len(statuses) < limit and (claimed := claim_due(now, limit - len(statuses))):
        statuses.extend(record(delivery, channels.send(delivery), now) for delivery in claimed)
    return statuses


class Worker:
    """The loop: every RPA_ALERT_INTERVAL, claim what the pool can take and hand it over."""

    def __init__(self, threads: int | None = None, clock=timezone.now) -> None:
        self.threads = threads or settings.RPA_ALERT_THREADS
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="rpa-alert-send")
        self.in_flight: dict[Future, object] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def _done(self, future: Future) -> None:
        with self._lock:
            self.in_flight.pop(future, None)
        if future.exception() is not None:
            logger.error("alert delivery crashed", exc_info=future.exception())

    def tick(self) -> int:
        """One look for due deliveries; returns how many were handed to the pool."""
        with self._lock:
            free = self.threads - len(self.in_flight)
            busy = frozenset(self.in_flight.values())
        if free <= 0:
            return 0
        claimed = claim_due(self.clock(), free, busy)
        for delivery in claimed:
            future = self.pool.submit(deliver, delivery, self.clock, self.stopping)
            with self._lock:
                self.in_flight[future] = delivery.channel_id
            future.add_done_callback(self._done)
        return len(claimed)

    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        interval = settings.RPA_ALERT_INTERVAL if interval is None else interval
        logger.info("alert worker: %d send threads", self.threads)
        embedded.repeat(self.tick, name="alert worker", interval=interval, stop=stop)
        self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        logger.info("alert worker stopped")


def run_forever(*, stop: threading.Event) -> None:
    """The embedded loop (settings.RPA_EMBEDDED_LOOPS): one worker until `stop` is set."""
    Worker().run_forever(stop)
