"""The dispatcher: claims queued jobs and runs the command outbox's senders (jobs.outbox).

One pass (`run_once`) runs the job timeouts (jobs.timeouts), hands every robot with unsent
commands to the pool's senders (`outbox.send_robot`, one per robot at a time), then, for every
robot with a free slot and an eligible queued job, claims the next jobs (jobs.queue.claim_many:
one short transaction per CLAIM_BATCH robots, which writes each claimed job's START into the
outbox) and hands those robots to the senders, so one slow robot never holds up another. A
START's outcome is applied by the sender: accepted → stays `dispatched` until the robot
confirms; refused or unreachable → `failed`/`dispatch_failed`; may have reached the robot (read
timeout) → stays `dispatched`, never sent again, and ends `never_confirmed` if no confirmation
comes within RPA_START_CONFIRM_SECONDS of the send.

Embedded in the server process by default (rpa_workbench/embedded.py), or `manage.py
run_dispatcher` alone. Several side by side are safe: claims are conditional (jobs.queue).
A job leaving its robot's slot calls `wakeup.kick()` after commit, so this process's loop passes
at once; the pool is `jobs.wakeup`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from jobs import outbox, queue, wakeup
from jobs.backends import DispatchOutcome
from rpa_workbench import embedded
from tasks.models import ControlAction, ControlRequest

logger = logging.getLogger(__name__)

# Robots claimed per transaction in a pass: one short transaction per batch, not one per robot.
CLAIM_BATCH = 50

@dataclass
class Summary:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)  # stops the outbox's senders sent in this pass

    def __bool__(self) -> bool:
        return bool(self.sent or self.failed or self.timed_out or self.stops)


def _note(summary: Summary | None) -> Callable[[ControlRequest, DispatchOutcome], None] | None:
    """Counts the STARTs a pass's sends delivered or not, in `summary`."""
    if summary is None:
        return None

    def on_sent(command: ControlRequest, outcome: DispatchOutcome) -> None:
        if command.action == ControlAction.START:
            (summary.sent if outcome.ok else summary.failed).append(str(command.job_id))
        else:
            summary.stops.append(str(command.pk))

    return on_sent


def dispatch_pending(*, now: datetime | None = None, wait_for_sends: bool = False, skip_locked: bool = True) -> Summary:
    """Claim the next jobs of every robot with a free slot (their STARTs written to the outbox in
    the claim's transaction) and hand those robots' commands to the pool's senders."""
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
        for account_id in dict.fromkeys(job.account_id for job in claimed):
            future = wakeup.run_in_pool(outbox.send_robot_logged, account_id, _note(summary))
            if future is not None:
                futures.append(future)
    if wait_for_sends and futures:
        wait(futures, timeout=settings.RPA_RELAY_TIMEOUT + 5)
    return summary


def run_once(*, now: datetime | None = None, wait_for_sends: bool = False, sweep: bool = True) -> Summary:
    """One pass; `sweep=False` leaves the timeouts for the next periodic pass (a kicked one)."""
    from jobs import timeouts

    now = now or timezone.now()
    summary = Summary()
    try:
        if sweep:
            summary.timed_out = timeouts.sweep(now=now)
    except Exception:
        logger.exception("dispatcher: timeouts failed")
    try:
        outbox.send_pending(_note(summary))
    except Exception:
        logger.exception("dispatcher: sending the outbox failed")
    sent = dispatch_pending(now=now, wait_for_sends=wait_for_sends)
    summary.sent += sent.sent
    summary.failed += sent.failed
    summary.stops += sent.stops
    return summary


def run_forever(*, interval: float | None = None, stop: threading.Event | None = None) -> None:
    interval = settings.RPA_DISPATCHER_INTERVAL if interval is None else interval
    next_sweep = 0.0

    def dispatch_pass() -> None:
        # A kick (a job ended or queued: up to hundreds a second in a burst) asks for dispatch
        # only; the timeouts, which read every queued and running job, are swept once an interval.
        nonlocal next_sweep
        wakeup.clear()
        sweep = time.monotonic() >= next_sweep
        if sweep:
            next_sweep = time.monotonic() + interval
        run_once(sweep=sweep)

    embedded.repeat(dispatch_pass, name="dispatcher", interval=interval, stop=stop or threading.Event(), sleep=wakeup.wait)
