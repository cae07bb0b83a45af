"""The command outbox: every message to a robot (START, stop, force stop) is a row, sent by one sender.

Writing: a command is a `ControlRequest` in outcome `queued`, inserted in the same transaction as
the job transition that causes it (`enqueue`): the claim `queued → dispatched` writes the START,
a force stop (`→ stopped`) and an admin or run-timeout stop (`→ stopping`) write theirs, and the
API's stop writes its STOP (the job moves to `stopping` once it is sent). Requests, admin
actions and the scheduler only write rows; none of them calls a backend.

Sending (`send_robot`, run by the dispatcher's pool; any number of processes may run it):
1. lease, in one short transaction holding the robot's account row (the lock order: account
   first), the robot's next unsent command — stops before STARTs, then oldest first — with a
   conditional update `queued → pending` (`sent_at` = the lease), unless the robot already has a
   command in flight (a live lease): **a robot never has two commands in flight**, and a START
   never leaves while a stop is unsent;
2. re-read the job under that lease and skip (`skipped`) a command that no longer applies: a
   START whose job is no longer `dispatched` (cancelled, force-stopped, ended) or has no task
   or robot any more, a plain stop whose job has ended;
3. send it outside any transaction (`jobs.backends.call`);
4. record the outcome in one short transaction with the transition it implies (a START the
   backend refused → `failed/dispatch_failed`; a plain stop sent → `stopping`), then lease the
   robot's next command.
A lease older than `lease_seconds()` belongs to a sender that died mid-send: the command is
recorded `failed` ("may have reached the robot": a START is never sent twice) and the robot's
next command leaves.

Waiting: an API start or stop wakes the sender for its robot (`wake`) and waits on its own
row (`wait`, bounded), so the contract's answers stay: 200 sent, 502 CONTROL_REQUEST_FAILED.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from jobs import audit, backends, locks, transitions, wakeup
from jobs.backends import BackendNotConfigured, DispatchOutcome
from jobs.models import BUSY, Job, JobStatus
from tasks.models import ControlAction, ControlOutcome, ControlRequest

logger = logging.getLogger(__name__)

STOP_ACTIONS = (ControlAction.STOP, ControlAction.FORCE_STOP)
UNSENT = (ControlOutcome.QUEUED, ControlOutcome.PENDING)
TARGET = {ControlAction.START: "START", ControlAction.STOP: "ALL", ControlAction.FORCE_STOP: "ALL"}
SEND_BATCH = 500
# Called outside any transaction with a job whose START a backend accepted with an external id
# (the yingdao app applies the callbacks that raced the answer).
STARTED_HOOKS: list[Callable[[Job], None]] = []

# Called outside any transaction with (job, outcome) after a plain stop was sent or failed.
STOP_SENT_HOOKS: list[Callable[[Job, DispatchOutcome], None]] = []

_waiters_lock = threading.Lock()
_waiters: dict[str, threading.Event] = {}


def lease_seconds() -> float:
    """How long a leased command counts as in flight: a send takes at most RPA_RELAY_TIMEOUT."""
    return settings.RPA_RELAY_TIMEOUT + 60


# -- writing ------------------------------------------------------------------------------------------
def enqueue(job: Job, *, action: str, source: str, user=None, requested_by_id=None) -> ControlRequest:
    """A command for `job`'s robot, inside the transaction of the transition that causes it."""
    transitions._require_transaction()
    return audit.record(
        action=action, target=TARGET[action], source=source, job=job, user=user,
        requested_by_id=requested_by_id, outcome=ControlOutcome.QUEUED,
    )


def queue_stop(job: Job, *, source: str, user=None, action: str = ControlAction.STOP) -> ControlRequest:
    return enqueue(job, action=action, source=source, user=user)


def accounts_with_unsent_stop(account_ids: list, *, now: datetime) -> set:
    """Which of these robots have a stop not yet delivered (queued, or leased and in flight):
    they get no new START claimed until it is."""
    live = now - timedelta(seconds=lease_seconds())
    return set(
        ControlRequest.objects.filter(
            Q(outcome=ControlOutcome.QUEUED) | Q(outcome=ControlOutcome.PENDING, sent_at__gte=live),
            job__account_id__in=account_ids,
            action__in=STOP_ACTIONS,
        )
        .values_list("job__account_id", flat=True)
        .distinct()
    )


# -- leasing --------------------------------------------------------------------------------------------
def _unsent_of(account_id):
    return ControlRequest.objects.filter(job__account_id=account_id, outcome__in=UNSENT)


def _expire_leases(account_id, now: datetime) -> None:
    """Leases older than lease_seconds(): their sender died mid-send. Recorded failed; a START
    among them may have reached the robot (never sent again; never_confirmed ends its job)."""
    cutoff = now - timedelta(seconds=lease_seconds())
    dead = _unsent_of(account_id).filter(
        # sent_at null: a row an older version left pending (it recorded before sending)
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff),
        outcome=ControlOutcome.PENDING,
    )
    for command in dead:
        logger.warning("outbox: the sender of %s %s died mid-send; recorded failed", command.action, command.pk)
    dead.update(outcome=ControlOutcome.FAILED, error="the sender stopped while sending: it may have reached the robot")


def _no_longer_applies(command: ControlRequest, job: Job | None) -> str:
    """Why the command must not be sent now (re-read under the lease), or ''."""
    if job is None:
        return "its job was deleted"
    if job.account_id is None:
        return "its robot was deleted"
    if command.action == ControlAction.START:
        if job.status != JobStatus.DISPATCHED:
            return f"the job is {job.status}: no START sent"
        if job.task_id is None:
            return "the job's task was deleted: no START sent"
    elif command.action == ControlAction.STOP and job.status not in BUSY:
        return f"the job had already ended ({job.status}): no stop sent"
    return ""


def lease_next(account_id, *, now: datetime | None = None) -> ControlRequest | None:
    """The robot's next command to send, leased to the caller; None when nothing is to be sent
    or another sender has one of this robot's commands in flight."""
    now = now or timezone.now()
    with transaction.atomic():
        locks.lock_robot(account_id)
        _expire_leases(account_id, now)
        unsent = _unsent_of(account_id)
        if unsent.filter(outcome=ControlOutcome.PENDING).exists():
            return None  # in flight: its sender leases the next one when done
        stops_first = Case(When(action=ControlAction.START, then=Value(1)), default=Value(0), output_field=IntegerField())
        for command in unsent.annotate(start_last=stops_first).order_by("start_last", "created_at")[:SEND_BATCH]:
            job = Job.objects.select_related("task", "account").filter(pk=command.job_id).first()
            why_not = _no_longer_applies(command, job)
            if why_not:
                ControlRequest.objects.filter(pk=command.pk, outcome=ControlOutcome.QUEUED).update(
                    outcome=ControlOutcome.SKIPPED, error=why_not
                )
                _notify(command.pk)
                continue
            if ControlRequest.objects.filter(pk=command.pk, outcome=ControlOutcome.QUEUED).update(
                outcome=ControlOutcome.PENDING, sent_at=now
            ):
                command.outcome, command.sent_at, command.job = ControlOutcome.PENDING, now, job
                return command
            return None
    return None


# -- sending --------------------------------------------------------------------------------------------
def deliver(command: ControlRequest) -> DispatchOutcome:
    """The backend's start or stop for the command's job, outside any transaction; never raises
    for the backend's failures."""
    job = command.job
    try:
        backend = backends.get_backend(job.backend)
        return backends.call(backend, "start" if command.action == ControlAction.START else "stop", job)
    except BackendNotConfigured as exc:
        return DispatchOutcome(ok=False, message=exc.message, error=f"{exc.code}: {exc.message}")


def _record(command: ControlRequest, outcome: DispatchOutcome) -> None:
    """The outcome on the row and the transition it implies, in one short transaction."""
    job = command.job
    now = timezone.now()
    with transaction.atomic():
        locks.lock_robot(job.account_id)
        audit.store_outcome(command, outcome)
        job.refresh_from_db()
        if command.action == ControlAction.START:
            if outcome.ok and outcome.external_id:
                transitions.store_external_id(job, outcome.external_id)
            elif not outcome.ok and not outcome.may_have_reached:
                transitions.fail_dispatch(job, now=now, message=outcome.error or outcome.message)
            elif not outcome.ok:
                Job.objects.filter(pk=job.pk).update(message=f"START may have reached the robot: {outcome.error}")
        elif command.action == ControlAction.STOP and outcome.ok and job.status in (JobStatus.DISPATCHED, JobStatus.RUNNING):
            transitions.begin_stop(job, now=now)
    if command.action == ControlAction.START and outcome.ok and outcome.external_id:
        for hook in STARTED_HOOKS:
            hook(job)
    if command.action == ControlAction.STOP:
        for hook in STOP_SENT_HOOKS:  # jobs.timeouts ends a run-timeout job (jobs/apps.py)
            hook(job, outcome)


def send_one(command: ControlRequest) -> DispatchOutcome:
    """Send a leased command and record its outcome."""
    try:
        outcome = deliver(command)
        _record(command, outcome)
    finally:
        _notify(command.pk)
    return outcome


def send_robot(account_id, on_sent: Callable[[ControlRequest, DispatchOutcome], None] | None = None) -> list[str]:
    """Send the robot's unsent commands one after another, for as long as this sender holds the
    lease; returns the ids it sent."""
    sent = []
    while (command := lease_next(account_id)) is not None:
        outcome = send_one(command)
        sent.append(str(command.pk))
        if on_sent is not None:
            on_sent(command, outcome)
    if sent:
        wakeup.kick()  # a robot whose stop went out may take its next job
    return sent


def send_robot_logged(account_id, on_sent=None) -> list[str]:
    try:
        return send_robot(account_id, on_sent)
    except Exception:
        logger.exception("outbox: sending the commands of robot %s failed", account_id)
        return []


def robots_with_unsent(now: datetime | None = None) -> list:
    """Robots with a queued command, or a lease that has expired."""
    now = now or timezone.now()
    dead = now - timedelta(seconds=lease_seconds())
    return list(
        ControlRequest.objects.filter(
            Q(outcome=ControlOutcome.QUEUED) | Q(outcome=ControlOutcome.PENDING, sent_at__lt=dead),
            job__account_id__isnull=False,
        )
        .values_list("job__account_id", flat=True)
        .distinct()
    )


def send_pending(on_sent=None) -> list[str]:
    """Hand every robot with unsent commands to a sender. Returns the ids of the commands sent
    (RPA_DISPATCHER_THREADS = 0: sent here and now), or of the robots handed to the pool."""
    done: list[str] = []
    for account_id in robots_with_unsent():
        if settings.RPA_DISPATCHER_THREADS == 0:
            done += send_robot_logged(account_id, on_sent)
        else:
            wakeup.run_in_pool(send_robot_logged, account_id, on_sent)
            done.append(str(account_id))
    return done


def wake(account_id) -> None:
    """Ask a sender to send this robot's commands now (the dispatcher's pool; with
    RPA_DISPATCHER_THREADS = 0, here and now: the tests' setting)."""
    wakeup.run_in_pool(send_robot_logged, account_id)


# -- waiting ---------------------------------------------------------------------------------------------
def _notify(command_id) -> None:
    with _waiters_lock:
        event = _waiters.get(str(command_id))
    if event is not None:
        event.set()


def wait(command: ControlRequest, *, timeout: float | None = None) -> ControlRequest:
    """Wait (bounded) until the command's outcome is known; returns it re-read. A sender in this
    process notifies at once; one in another process is seen by re-reading the row."""
    timeout = settings.RPA_RELAY_TIMEOUT + 5 if timeout is None else timeout
    key = str(command.pk)
    event = threading.Event()
    with _waiters_lock:
        _waiters[key] = event
    try:
        deadline = time.monotonic() + timeout
        while True:
            command.refresh_from_db()
            if command.outcome not in UNSENT or time.monotonic() >= deadline:
                return command
            event.wait(min(0.2, max(deadline - time.monotonic(), 0)))
            event.clear()
    finally:
        with _waiters_lock:
            _waiters.pop(key, None)


def send_and_wait(command: ControlRequest, *, timeout: float | None = None) -> ControlRequest:
    """Wake the robot's sender, then wait for this command's outcome."""
    wake(command.job.account_id)
    return wait(command, timeout=timeout)
