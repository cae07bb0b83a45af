"""Job workflows shared by the API, the admin, the scheduler and the intranet endpoint: start
(a job, dispatched inline when its robot is free), stop, force-stop, cancel and retry.

Each decides in one short transaction through `jobs.transitions`, which also writes the robot's
command (START, stop, force stop) into its outbox (`jobs.outbox`); none calls a backend. An API
start or stop waits, bounded, for its command's outcome. Every refusal is recorded (a `skipped` ControlRequest) and raised as the API.md
error: 409 naming the current state, 502 CONTROL_REQUEST_FAILED, 503 when the robot's backend is
not configured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import NoReturn

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status as http

from jobs import audit, backends, locks, outbox, pooling, queue, transitions
from jobs import inputs as job_inputs
from jobs.backends import BackendNotConfigured
from jobs.models import ACTIVE, BUSY, TASK_RUNNING, Job, JobReason, JobSource, JobStatus
from rpa_workbench.errors import ApiError, Conflict
from tasks.models import ControlAction, ControlOutcome, ControlRequest, Task, TaskStatus

logger = logging.getLogger(__name__)

RELAY_NOT_CONFIGURED_MESSAGE = "relay not configured: set RPA_RELAY_URL to control robots"


@dataclass
class Started:
    """A start's result: the job, the START sent inline (None when queued) and the task as the
    start's transaction left it; `position` (the job's queue_position) is counted when read."""

    job: Job
    request: ControlRequest | None = None
    task: Task | None = None

    @cached_property
    def position(self) -> int | None:
        return queue.position(self.job)


def fresh_task(task: Task) -> Task:
    try:
        return Task.objects.select_related("account").get(pk=task.pk)
    except Task.DoesNotExist:
        raise ApiError(http.HTTP_404_NOT_FOUND, "NOT_FOUND", "task not found") from None


def _refuse(task: Task, *, action: str, target: str, source: str, user, code: str, message: str, status_code=409, job=None) -> NoReturn:
    audit.record(
        task=task, job=job, action=action, target=target, source=source, user=user,
        outcome=ControlOutcome.SKIPPED, error=f"{code}: {message}",
    )
    if status_code == 409:
        raise Conflict(code, message)
    raise ApiError(status_code, code, message)


def not_configured(task: Task) -> BackendNotConfigured | None:
    """Why the task's robot cannot be dispatched to, or None."""
    return robot_not_configured(task.account)


def robot_not_configured(account) -> BackendNotConfigured | None:
    """Why this robot cannot be sent commands, or None."""
    name = account.dispatch_backend
    try:
        backend = backends.get_backend(name)
    except BackendNotConfigured as exc:
        return exc
    if backend.is_configured():
        return None
    if name == "relay":
        message = RELAY_NOT_CONFIGURED_MESSAGE
    else:  # a backend may say what to set (the Yingdao one names its missing variables)
        describe = getattr(backend, "not_configured_message", None)
        message = describe() if describe else f"dispatch backend {name} is not configured"
    return BackendNotConfigured(name, message)


def control_failed(request: ControlRequest, **extra) -> ApiError:
    return ApiError(
        http.HTTP_502_BAD_GATEWAY,
        "CONTROL_REQUEST_FAILED",
        f"control request failed: {request.error}",
        control_request_id=str(request.pk),
        **extra,
    )


# -- start ------------------------------------------------------------------------------------------
def _start_refusal(task: Task, now: datetime) -> tuple[str, str] | None:
    """Inside the transaction: why `task` cannot get a new job now, or None. An unconfirmed
    dispatch older than RPA_START_PENDING_SECONDS ends never_confirmed and no longer blocks."""
    job = transitions.active_job(task, now=now, adopt=False)
    if task.status == TaskStatus.RUNNING or (job is not None and job.status in TASK_RUNNING):
        return "TASK_ALREADY_RUNNING", f"task {task.task_name} is already running"
    window_start = now - timedelta(seconds=settings.RPA_START_PENDING_SECONDS)
    claimed_at = task.start_requested_at
    if job is not None and job.status == JobStatus.QUEUED:
        return "START_PENDING", f"task {task.task_name} already has a queued job ({job.pk})"
    if claimed_at is not None and claimed_at > window_start:
        return "START_PENDING", f"task {task.task_name} was started recently and the robot has not confirmed yet"
    if job is not None:  # dispatched, and its window has passed
        transitions.fail(
            job, now=now, reason=JobReason.NEVER_CONFIRMED, expected=[JobStatus.DISPATCHED],
            message="a new start came after the robot had not confirmed this one",
        )
    return None


def _pool_backlog(task: Task, source: str) -> tuple[str, str] | None:
    """A scheduled start of a pool task is skipped (START_PENDING, recorded as the scheduler's skip)
    while max_parallel_jobs of its jobs still wait: a schedule never piles up a backlog. Starts by
    people, triggers and retries always add a job."""
    if source != JobSource.SCHEDULER:
        return None
    waiting = Job.objects.filter(task_id=task.pk, status=JobStatus.QUEUED).count()
    if waiting < task.max_parallel_jobs:
        return None
    return "START_PENDING", f"pool task {task.task_name} already has {waiting} queued jobs"


def _new_job_refusal(task: Task, now: datetime, source: str) -> tuple[str, str] | None:
    """Inside the transaction: why `task` gets no new job now (start or retry), or None. A pool
    task runs several jobs at once (API.md §12): each start is one more job, only a schedule's
    backlog is refused; any other task has one active job."""
    return _start_refusal(task, now) if task.pool_id is None else _pool_backlog(task, source)


def start_job(
    *,
    task: Task,
    source: str,
    user=None,
    priority: str | None = None,
    run_timeout_seconds: int | None = None,
    wait_timeout_seconds: int | None = None,
    inline: bool = True,
    inputs: dict | None = None,
) -> Started:
    """Create the task's job; when its robot is free and `inline`, claim it in the same
    transaction (its START written to the robot's command outbox), wake the robot's sender and
    wait, bounded, for the START's outcome (502 if the backend refused it: the job then ended
    failed/dispatch_failed). Otherwise it waits queued for the dispatcher, as it does when every
    waiting slot (RPA_INLINE_STARTS) is taken. 409 TASK_ALREADY_RUNNING / START_PENDING, 503 when
    not configured, 404 when the task is gone. Never calls a backend itself."""
    refuse = dict(action=ControlAction.START, target="START", source=audit.SOURCE_OF_JOB.get(source, source), user=user)
    resolved = job_inputs.resolve(task, inputs)  # io: API.md §11 (400 naming the parameter)
    with inline_slot(inline) as wait_here:
        claimed: list[Job] = []
        with transaction.atomic():
            members = lock_pool_members(task.pool_id)  # a pool's robots before the task (lock order)
            try:
                locked = locks.lock_task(task.pk, account_id=task.account_id)
            except Task.DoesNotExist:
                raise ApiError(http.HTTP_404_NOT_FOUND, "NOT_FOUND", "task not found") from None
            now = timezone.now()  # after the locks, which may have waited: the job's times are its own
            problem = not_configured(locked)
            # A pool task runs several jobs at once (API.md §12): each start is one more job.
            refusal = None if problem is not None else _new_job_refusal(locked, now, source)
            if problem is None and refusal is None:
                job = transitions.create(
                    task=locked, source=source, now=now, user=user, priority=priority, task_locked=True,
                    run_timeout_seconds=run_timeout_seconds, wait_timeout_seconds=wait_timeout_seconds,
                    inputs=resolved,  # io
                )
                if wait_here:
                    robots = members if members and locked.pool_id == task.pool_id else {}
                    claimed = queue.claim_locked(robots or {locked.account_id: locked.account}, now=now)
        if problem is not None:
            _refuse(task=locked, **refuse, code=problem.code, message=problem.message, status_code=http.HTTP_503_SERVICE_UNAVAILABLE)
        if refusal is not None:
            _refuse(task=locked, **refuse, code=refusal[0], message=refusal[1])
        ours = next((claimed_job for claimed_job in claimed if claimed_job.pk == job.pk), None)
        started = Started(ours or job, task=locked)
        if ours is not None:
            started.request = outbox.send_and_wait(ours.start_command)
            if started.request.outcome == ControlOutcome.FAILED:
                raise control_failed(started.request)
        for robot in {claimed_job.account_id for claimed_job in claimed if claimed_job is not ours}:
            outbox.wake(robot)  # an older job of the robot (or of its pool) came first
    return started


def lock_pool_members(pool_id) -> dict:
    """A pool's robots, locked (pk → Account) in one statement: a pool task's start claims for
    whichever of them is free, in the start's transaction. Empty without a pool."""
    if pool_id is None:
        return {}
    return queue.lock_accounts(pooling.member_ids(pool_id))


def start_on_every_robot(*, task: Task, source: str, user=None, inputs: dict | None = None) -> list[Job]:
    """`scope: all` (API.md §12): one job per robot of the task's pool, each bound to its robot,
    claimed at once where the robot is free (their STARTs sent by the dispatcher's senders; the
    request does not wait on N robots). A robot that already has an active job of the task, or
    whose backend is not configured, is left out; none left → 409 START_PENDING. Jobs still obey
    the task's max_parallel_jobs. 400 when the task has no pool."""
    if task.pool_id is None:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "scope: all needs a task with a pool (pool_id)")
    resolved = job_inputs.resolve(task, inputs)  # io
    now = timezone.now()
    with transaction.atomic():
        members = lock_pool_members(task.pool_id)
        locked = locks.lock_task(task.pk, account_id=task.account_id)
        if locked.pool_id != task.pool_id:
            raise Conflict("CONFLICT", f"task {task.task_name} changed its pool meanwhile; try again")
        taken = set(Job.objects.filter(task_id=locked.pk, status__in=ACTIVE, any_robot=False).values_list("account_id", flat=True))
        jobs = [
            transitions.create(task=locked, robot=robot, source=source, now=now, user=user, task_locked=True, inputs=resolved)
            for robot in sorted(members.values(), key=lambda account: account.shadow_bot_account)
            if robot.pk not in taken and robot_not_configured(robot) is None
        ]
        if not jobs:
            raise Conflict("START_PENDING", f"every robot of the pool already has a job of task {locked.task_name}")
        claimed = {job.pk: job for job in queue.claim_locked(members, now=now)}
    for robot in {job.account_id for job in claimed.values()}:
        outbox.wake(robot)
    return [claimed.get(job.pk, job) for job in jobs]


_inline_lock = threading.Lock()
_inline_sending = 0


@contextmanager
def inline_slot(wanted: bool) -> Iterator[bool]:
    """One of this process's RPA_INLINE_STARTS slots for a request waiting on its START's
    outcome, if one is free (yields False otherwise, or when not `wanted`). Each wait holds a
    request thread for as long as the backend takes (up to RPA_RELAY_TIMEOUT); past the bound the
    job is left queued and answered at once, so a slow relay never takes every request thread."""
    global _inline_sending
    with _inline_lock:
        granted = wanted and _inline_sending < settings.RPA_INLINE_STARTS
        _inline_sending += granted
    try:
        yield granted
    finally:
        if granted:
            with _inline_lock:
                _inline_sending -= 1


# -- stop ---------------------------------------------------------------------------------------------
def _not_running(job: Job, code: str) -> Conflict:
    job.refresh_from_db()
    return Conflict(code, f"job {job.pk} is {job.status}, not running")


def stop_job(*, job: Job, source: str, user=None, force: bool = False, task_level: bool = False, deferred: bool = False):
    """queued → cancelled; dispatched/running → a STOP command in the robot's outbox, waited for
    (bounded): sent → the job `stopping`; failed → 502, nothing changed. `force` → stopped at
    once with its FORCE_STOP command written in the same transaction (sent whatever the job does
    next). `deferred` (admin bulk actions): no waiting; the job moves now (stopping, or stopped
    when forced) with its command, and the dispatcher sends it. A job whose robot was deleted
    ends stopped with nothing sent. Returns (job, ControlRequest or None)."""
    code = "TASK_NOT_RUNNING" if task_level else "JOB_NOT_RUNNING"
    if job.status == JobStatus.QUEUED:
        with transaction.atomic():
            moved = transitions.cancel(job, now=timezone.now())
        if moved is not None:
            return job, None
        job.refresh_from_db()
    if job.status not in BUSY:
        raise Conflict(code, f"job {job.pk} is {job.status}, not running")
    if job.account_id is None:  # its robot was deleted: there is nobody to send a stop to
        with transaction.atomic():
            if transitions.stopped(job, now=timezone.now(), reason=JobReason.FORCE_STOPPED) is None:
                raise _not_running(job, code)
        return job, None
    if force:
        with transaction.atomic():
            if transitions.stopped(job, now=timezone.now(), reason=JobReason.FORCE_STOPPED) is None:
                raise _not_running(job, code)
            command = outbox.enqueue(job, action=ControlAction.FORCE_STOP, source=source, user=user)
        return job, (command if deferred else outbox.send_and_wait(command))
    problem = robot_not_configured(job.account)
    if problem is not None:
        _refuse(job.task, job=job, action=ControlAction.STOP, target="ALL", source=source, user=user,
                code=problem.code, message=problem.message, status_code=http.HTTP_503_SERVICE_UNAVAILABLE)
    with transaction.atomic():
        if deferred:
            if job.status != JobStatus.STOPPING and transitions.begin_stop(job, now=timezone.now()) is None:
                raise _not_running(job, code)
        else:
            locks.lock_robot(job.account_id)
            job.refresh_from_db()
            if job.status not in BUSY:
                raise Conflict(code, f"job {job.pk} is {job.status}, not running")
        command = outbox.enqueue(job, action=ControlAction.STOP, source=source, user=user)
    if deferred:
        return job, command
    command = outbox.send_and_wait(command)
    if command.outcome == ControlOutcome.FAILED:
        raise control_failed(command)
    job.refresh_from_db()
    return job, command


# -- cancel / retry -------------------------------------------------------------------------------------
def cancel_job(*, job: Job, user=None) -> Job:
    with transaction.atomic():
        moved = transitions.cancel(job, now=timezone.now())
    if moved is None:
        job.refresh_from_db()
        raise Conflict("JOB_NOT_QUEUED", f"job {job.pk} is {job.status}, not queued")
    return job


RETRYABLE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELLED)


def retry_job(*, job: Job, user=None) -> Job:
    """A new queued job for a failed, stopped or cancelled one (attempt + 1, retry_of)."""
    if job.status not in RETRYABLE:
        raise Conflict("JOB_NOT_RETRYABLE", f"job {job.pk} is {job.status}; only failed, stopped or cancelled jobs are retried")
    if job.task_id is None:
        raise Conflict("TASK_NOT_FOUND", f"the task of job {job.pk} was deleted")
    now = timezone.now()
    with transaction.atomic():
        task = locks.lock_task(job.task_id)
        refusal = _new_job_refusal(task, now, JobSource.RETRY)
        if refusal is not None:
            raise Conflict(*refusal)
        return transitions.create(
            task=task, source=JobSource.RETRY, now=now, user=user, priority=job.priority,
            run_timeout_seconds=job.run_timeout_seconds, wait_timeout_seconds=job.wait_timeout_seconds,
            attempt=job.attempt + 1, retry_of=job, inputs=job_inputs.copy_for_retry(job),  # io
        )
