"""Job workflows shared by the API, the admin, the scheduler and the intranet endpoint: start
(a job, dispatched inline when its robot is free), stop, force-stop, cancel and retry.

Each decides in one short transaction through `jobs.transitions`, and calls backends only after
it committed. Every refusal is recorded (a `skipped` ControlRequest) and raised as the API.md
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

from jobs import audit, backends, dispatcher, outbox, queue, transitions
from jobs import inputs as job_inputs
from jobs.backends import BackendNotConfigured
from jobs.models import BUSY, TASK_RUNNING, Job, JobReason, JobSource, JobStatus
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
    name = task.account.dispatch_backend
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


def control_failed(request: ControlRequest, outcome, **extra) -> ApiError:
    return ApiError(
        http.HTTP_502_BAD_GATEWAY,
        "CONTROL_REQUEST_FAILED",
        f"control request failed: {outcome.error or outcome.message}",
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
    transaction and send the START now (502 if the backend refuses it: the job then ends
    failed/dispatch_failed). Otherwise it waits queued for the dispatcher, as it does when every
    inline slot (RPA_INLINE_STARTS) is sending already. 409 TASK_ALREADY_RUNNING / START_PENDING,
    503 when not configured, 404 when the task is gone."""
    refuse = dict(action=ControlAction.START, target="START", source=audit.SOURCE_OF_JOB.get(source, source), user=user)
    resolved = job_inputs.resolve(task, inputs)  # io: API.md §11 (400 naming the parameter)
    with inline_slot(inline) as send_here:
        now = timezone.now()
        claimed: list[Job] = []
        with transaction.atomic():
            try:
                locked = transitions.lock_task(task.pk, account_id=task.account_id)
            except Task.DoesNotExist:
                raise ApiError(http.HTTP_404_NOT_FOUND, "NOT_FOUND", "task not found") from None
            problem = not_configured(locked)
            refusal = _start_refusal(locked, now) if problem is None else None
            if problem is None and refusal is None:
                job = transitions.create(
                    task=locked, source=source, now=now, user=user, priority=priority, task_locked=True,
                    run_timeout_seconds=run_timeout_seconds, wait_timeout_seconds=wait_timeout_seconds,
                    inputs=resolved,  # io
                )
                if send_here:
                    claimed = queue.claim_locked({locked.account_id: locked.account}, now=now)
        if problem is not None:
            _refuse(task=locked, **refuse, code=problem.code, message=problem.message, status_code=http.HTTP_503_SERVICE_UNAVAILABLE)
        if refusal is not None:
            _refuse(task=locked, **refuse, code=refusal[0], message=refusal[1])
        ours = next((claimed_job for claimed_job in claimed if claimed_job.pk == job.pk), None)
        for other in claimed:  # an older job of the robot came first: the dispatcher's pool sends it
            if other is not ours:
                dispatcher.submit(other)
        started = Started(ours or job, task=locked)
        if ours is not None:
            started.request, outcome = dispatcher.send_start(ours, user=user)
            if not outcome.ok:
                raise control_failed(started.request, outcome)
    return started


_inline_lock = threading.Lock()
_inline_sending = 0


@contextmanager
def inline_slot(wanted: bool) -> Iterator[bool]:
    """One of this process's RPA_INLINE_STARTS slots for a START sent in the request, if one is
    free (yields False otherwise, or when not `wanted`). Each inline send holds a request thread
    for as long as the backend takes (up to RPA_RELAY_TIMEOUT); past the bound the job is left
    to the dispatcher's own pool, so a slow relay never takes every request thread."""
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
    """queued → cancelled; dispatched/running → the backend's stop, then stopping (502 when it
    fails, nothing changed); `force` → stopped at once, the stop sent after commit regardless.
    `deferred` (admin bulk actions): no backend call here; the job moves now (stopping, or
    stopped when forced) and its stop is queued in the outbox for the dispatcher (jobs.outbox).
    Returns (job, ControlRequest or None)."""
    code = "TASK_NOT_RUNNING" if task_level else "JOB_NOT_RUNNING"
    if job.status == JobStatus.QUEUED:
        with transaction.atomic():
            moved = transitions.cancel(job, now=timezone.now())
        if moved is not None:
            return job, None
        job.refresh_from_db()
    if job.status not in BUSY:
        raise Conflict(code, f"job {job.pk} is {job.status}, not running")
    if force:
        request = None
        with transaction.atomic():
            if transitions.stopped(job, now=timezone.now(), reason=JobReason.FORCE_STOPPED) is None:
                raise _not_running(job, code)
            if deferred:
                request = outbox.queue_stop(job, source=source, user=user, action=ControlAction.FORCE_STOP)
        if request is None:
            request, _ = outbox.send_stop_now(job, source=source, user=user, action=ControlAction.FORCE_STOP)
        return job, request
    problem = not_configured(job.task) if job.task_id else None
    if problem is not None:
        _refuse(job.task, job=job, action=ControlAction.STOP, target="ALL", source=source, user=user,
                code=problem.code, message=problem.message, status_code=http.HTTP_503_SERVICE_UNAVAILABLE)
    if deferred:
        with transaction.atomic():
            if job.status != JobStatus.STOPPING and transitions.begin_stop(job, now=timezone.now()) is None:
                raise _not_running(job, code)
            return job, outbox.queue_stop(job, source=source, user=user)
    request, outcome = outbox.send_stop_now(job, source=source, user=user)
    if not outcome.ok:
        raise control_failed(request, outcome)
    if job.status != JobStatus.STOPPING:
        with transaction.atomic():
            transitions.begin_stop(job, now=timezone.now())
    return job, request


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
        task = transitions.lock_task(job.task_id)
        refusal = _start_refusal(task, now)
        if refusal is not None:
            raise Conflict(*refusal)
        return transitions.create(
            task=task, source=JobSource.RETRY, now=now, user=user, priority=job.priority,
            run_timeout_seconds=job.run_timeout_seconds, wait_timeout_seconds=job.wait_timeout_seconds,
            attempt=job.attempt + 1, retry_of=job, inputs=job_inputs.copy_for_retry(job),  # io
        )
