"""The dispatcher: sends queued jobs' START through their robot's backend.

One pass (`run_once`) runs the job timeouts (jobs.timeouts), hands the outbox's queued stops
(jobs.outbox) to the pool, then, for every robot with a free slot and an eligible queued job,
claims the next jobs (jobs.queue.claim_many: one short transaction per CLAIM_BATCH robots) and
hands each send to a small thread pool, so one slow robot never holds up another. A send runs
outside any transaction; its outcome is recorded on the job's ControlRequest and applied with a
transition: accepted → stays `dispatched` until the robot confirms; refused or unreachable →
`failed`/`dispatch_failed`; may have reached the robot (read timeout) → stays `dispatched`, never
sent again, and ends `never_confirmed` if no confirmation comes (RPA_START_CONFIRM_SECONDS).

Embedded in the server process by default (rpa_workbench/embedded.py), or `manage.py
run_dispatcher` alone. Several side by side are safe: claims are conditional (jobs.queue).
A job leaving its robot's slot calls `kick()` after commit, so this process's loop passes at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from jobs import audit, backends, queue, transitions
from jobs.backends import BackendNotConfigured, DispatchOutcome
from jobs.models import Job
from tasks.models import ControlAction, ControlRequest

logger = logging.getLogger(__name__)

# Robots claimed per transaction in a pass: one short transaction per batch, not one per robot.
CLAIM_BATCH = 50

_wake = threading.Event()
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def kick() -> None:
    """Ask this process's dispatcher loop for a pass now (a robot became free, a job queued)."""
    _wake.set()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.RPA_DISPATCHER_THREADS, thread_name_prefix="rpa-dispatch")
        return _pool


@dataclass
class Summary:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)  # outbox stops claimed and handed to the pool

    def __bool__(self) -> bool:
        return bool(self.sent or self.failed or self.timed_out or self.stops)


def send_start(job: Job, *, user=None) -> tuple[ControlRequest, DispatchOutcome]:
    """Send a dispatched job's START, record it and apply the outcome (outside any transaction)."""
    backends.ensure_outside_transaction()
    request = audit.record(
        action=ControlAction.START,
        target="START",
        source=audit.SOURCE_OF_JOB[job.source],
        job=job,
        user=user,
        requested_by_id=job.requested_by_id,
    )
    try:
        outcome = backends.call(backends.get_backend(job.backend), "start", job)
    except BackendNotConfigured as exc:
        outcome = DispatchOutcome(ok=False, message=exc.message, error=f"{exc.code}: {exc.message}")
    audit.store_outcome(request, outcome)
    if outcome.ok:
        if outcome.external_id:
            Job.objects.filter(pk=job.pk).update(external_id=outcome.external_id)
            job.external_id = outcome.external_id
    elif not outcome.may_have_reached:
        with transaction.atomic():
            transitions.fail_dispatch(job, now=timezone.now(), message=outcome.error or outcome.message)
    else:
        Job.objects.filter(pk=job.pk).update(message=f"START may have reached the robot: {outcome.error}")
    return request, outcome


def _send(job: Job, summary: Summary | None) -> None:
    try:
        _, outcome = send_start(job)
        if summary is not None:
            (summary.sent if outcome.ok else summary.failed).append(str(job.pk))
    except Exception:
        logger.exception("dispatcher: sending job %s failed", job.pk)


def _in_thread(send: Callable[..., None], *args: Any) -> None:
    """`send` in a pool thread, which closes its database connection afterwards."""
    try:
        send(*args)
    finally:
        connection.close()


def run_in_pool(send: Callable[..., None], *args: Any) -> Future | None:
    """Run a send in the pool; with RPA_DISPATCHER_THREADS = 0, here and now (the tests' setting:
    they run inside one transaction that other threads' connections cannot see)."""
    if settings.RPA_DISPATCHER_THREADS == 0:
        send(*args)
        return None
    return pool().submit(_in_thread, send, *args)


def submit(job: Job, summary: Summary | None = None) -> Future | None:
    """Send a claimed job's START in the pool (see run_in_pool)."""
    return run_in_pool(_send, job, summary)


def dispatch_pending(*, now: datetime | None = None, wait_for_sends: bool = False, skip_locked: bool = True) -> Summary:
    """Claim the next jobs of every robot with a free slot and send them in the pool."""
    now = now or timezone.now()
    summary = Summary()
    futures: list[Future] = []
    waiting = queue.accounts_with_work(now)
    for first in range(0, len(waiting), CLAIM_BATCH):
        batch = waiting[first : first + CLAIM_BATCH]
        try:
            claimed = queue.claim_many(batch, now=now, skip_locked=skip_locked)
        except Exception:
            logger.exception("dispatcher: claiming for %s accounts failed", len(batch))
            continue
        futures += [future for job in claimed if (future := submit(job, summary)) is not None]
    if wait_for_sends and futures:
        wait(futures, timeout=settings.RPA_RELAY_TIMEOUT + 5)
    return summary


def run_once(*, now: datetime | None = None, wait_for_sends: bool = False, sweep: bool = True) -> Summary:
    """One pass; `sweep=False` leaves the timeouts for the next periodic pass (a kicked one)."""
    from jobs import outbox, timeouts

    now = now or timezone.now()
    summary = Summary()
    try:
        if sweep:
            summary.timed_out = timeouts.sweep(now=now)
    except Exception:
        logger.exception("dispatcher: timeouts failed")
    try:
        summary.stops = outbox.send_pending()
    except Exception:
        logger.exception("dispatcher: sending stops failed")
    sent = dispatch_pending(now=now, wait_for_sends=wait_for_sends)
    summary.sent, summary.failed = sent.sent, sent.failed
    return summary


def run_forever(*, interval: float | None = None, stop: threading.Event | None = None) -> None:
    interval = settings.RPA_DISPATCHER_INTERVAL if interval is None else interval
    stop = stop or threading.Event()
    logger.info("dispatcher running (sweep every %ss)", interval)
    next_sweep = 0.0
    while not stop.is_set():
        _wake.clear()
        close_old_connections()
        # A kick (a job ended or queued: up to hundreds a second in a burst) asks for dispatch
        # only; the timeouts, which read every queued and running job, are swept once an interval.
        sweep = time.monotonic() >= next_sweep
        if sweep:
            next_sweep = time.monotonic() + interval
        try:
            run_once(sweep=sweep)
        except Exception:
            logger.exception("dispatcher pass failed")
        finally:
            close_old_connections()
        _wake.wait(interval)
    logger.info("dispatcher stopped")
