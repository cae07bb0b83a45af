"""Task control (API.md §2), as the API, admin, scheduler and intranet endpoint call it: every
start, stop and force-stop is a job (`jobs.services`); robots' confirms, reports and heartbeats
are `jobs.reports` (no re-export here). This module keeps the task-level answers the SPA reads:
the same 409 codes, the 502/503 contract and `control_response`.

Callers must not wrap these functions in `transaction.atomic`: an API start or stop waits for its
command's outcome (jobs.outbox), which a transaction would hide from the sender.
"""

from __future__ import annotations

import ipaddress
import logging
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import Case, When
from django.utils import timezone
from rest_framework import status as http

from jobs import audit, locks, outbox, queue, transitions
from jobs import services as job_services
from jobs.backends import relay_protocol as relay
from jobs.models import ACTIVE, BUSY, Job, JobStatus
from rpa_workbench.errors import ApiError, Conflict
from tasks.models import (
    ControlAction,
    ControlOutcome,
    ControlRequest,
    ControlSource,
    Task,
)

logger = logging.getLogger(__name__)


def _sync(task: Task, fresh: Task) -> None:
    """Copy the database state back into the caller's instance."""
    for name in ("status", "start_requested_at", "last_run_time", "last_seen_at", "updated_at"):
        setattr(task, name, getattr(fresh, name))
    task.account = fresh.account


def start_task(
    *, task: Task, source: str, user=None, inputs: dict | None = None, scope: str = "one"
) -> ControlRequest | Job | list[Job]:
    """Start the task: a job, whose START is sent now when its robot is free (returns that
    ControlRequest), or which waits queued (returns the Job). 409 TASK_ALREADY_RUNNING /
    START_PENDING, 502 when the START failed, 503 when no backend is configured. `scope` "all"
    (a pool task, API.md §12): one job per robot of its pool (returns them)."""
    if scope == "all":
        jobs = job_services.start_on_every_robot(task=task, source=source, user=user, inputs=inputs)
        _sync(task, job_services.fresh_task(task))
        return jobs
    started = job_services.start_job(task=task, source=source, user=user, inputs=inputs)  # io: inputs (API.md §11)
    _sync(task, started.task)
    return started.request if started.request is not None else started.job


def _current_job(task: Task) -> Job | None:
    with transaction.atomic():
        locked = locks.lock_task(task.pk)
        return transitions.active_job(locked, now=timezone.now())


def _task_control(task: Task, *, source: str, user, action: str, force: bool, deferred: bool) -> ControlRequest | Job | list:
    task = job_services.fresh_task(task)
    if task.pool_id is not None:
        return _pool_task_control(task, source=source, user=user, action=action, force=force, deferred=deferred)
    job = _current_job(task)
    if job is None:
        audit.record(
            task=task, action=action, target=relay.STOP, source=source, user=user,
            outcome=ControlOutcome.SKIPPED, error=f"TASK_NOT_RUNNING: task {task.task_name} is not running",
        )
        raise Conflict("TASK_NOT_RUNNING", f"task {task.task_name} is not running")
    try:
        job, request = job_services.stop_job(
            job=job, source=source, user=user, force=force, task_level=True, deferred=deferred
        )
    except Conflict as exc:
        audit.record(task=task, job=job, action=action, target=relay.STOP, source=source, user=user,
                     outcome=ControlOutcome.SKIPPED, error=f"{exc.error_code}: {exc.message}")
        raise
    return request if request is not None else job


def _pool_task_control(task: Task, *, source: str, user, action: str, force: bool, deferred: bool) -> list:
    """A pool task's stop or force-stop acts on every active job of the task, on every robot
    (API.md §12): what was done to each (its stop command, or the job when it was cancelled).
    Each job's stop is the jobs' own workflow; a failure on one robot does not keep the others
    running."""
    jobs = list(Job.objects.select_related("task", "account").filter(task_id=task.pk, status__in=ACTIVE).order_by("created_at"))
    if not jobs:
        audit.record(
            task=task, action=action, target=relay.STOP, source=source, user=user,
            outcome=ControlOutcome.SKIPPED, error=f"TASK_NOT_RUNNING: task {task.task_name} is not running",
        )
        raise Conflict("TASK_NOT_RUNNING", f"task {task.task_name} is not running")
    acted: list[ControlRequest | Job] = []
    failure: ApiError | None = None
    for job in jobs:
        try:
            job, request = job_services.stop_job(
                job=job, source=source, user=user, force=force, task_level=True, deferred=True
            )
        except ApiError as exc:
            failure = failure or exc
            continue
        acted.append(request if request is not None else job)
    if not acted:
        raise failure or Conflict("TASK_NOT_RUNNING", f"task {task.task_name} is not running")
    for robot in {job.account_id for job in jobs if job.account_id}:
        outbox.wake(robot)
    return acted


def stop_task(*, task: Task, source: str, user=None, deferred: bool = False) -> ControlRequest | Job | list:
    """Stop the task's job: a queued one is cancelled (returns the Job); a dispatched or running
    one gets the backend's stop (`target=ALL`), its status unchanged until the robot confirms.
    409 TASK_NOT_RUNNING, 502 when the stop failed, 503 when not configured. `deferred`: the job
    moves to stopping now and the dispatcher sends the stop (jobs.outbox; the admin's bulk stop)."""
    result = _task_control(task, source=source, user=user, action=ControlAction.STOP, force=False, deferred=deferred)
    _sync(task, job_services.fresh_task(task))
    return result


def force_stop_task(*, task: Task, source: str, user=None, deferred: bool = False) -> ControlRequest | Job | list:
    """The job stopped at once (task and account pending), then the stop sent regardless of
    failure (recorded on the returned ControlRequest); `deferred`: sent by the dispatcher."""
    result = _task_control(
        task, source=source, user=user, action=ControlAction.FORCE_STOP, force=True, deferred=deferred
    )
    _sync(task, job_services.fresh_task(task))
    return result


def _several_response(task: Task, acted: list) -> dict[str, Any]:
    """`scope: all` (the jobs started) or a pool task's stop (each job's stop command, or the job
    cancelled while queued): `job_id` names the first, `jobs` every one with its robot."""
    jobs = [item if isinstance(item, Job) else item.job for item in acted]
    if any(isinstance(item, ControlRequest) for item in acted) or all(job.status == JobStatus.CANCELLED for job in jobs):
        robots = len({job.account_id for job in jobs})
        message = f"stop requested for {len(jobs)} jobs of the pool task on {robots} robots"
    else:
        queued = sum(job.status == JobStatus.QUEUED for job in jobs)
        message = f"started {len(jobs)} jobs, one per robot of the pool ({len(jobs) - queued} sent, {queued} queued)"
    return {"success": True, "message": message, "task_id": str(task.pk), "status": task.status,
            "job_id": str(jobs[0].pk), "job_status": jobs[0].status,
            "jobs": [{"job_id": str(job.pk), "account_id": str(job.account_id) if job.account_id else None,
                      "shadow_bot_account": job.shadow_bot_account, "job_status": job.status} for job in jobs]}


# -- raw relay access (intranet proxy endpoint) ---------------------------------------------
def send_raw_control(
    *,
    backend_ip: str,
    backend_port: int | str,
    app_name: str,
    target: str,
    source: str = ControlSource.INTRANET,
    user=None,
) -> ControlRequest:
    """Send a raw control request as given (no state checks), recorded like every other one and
    linked to the task on that host/app when there is one. 400 on bad input, 502 on relay failure
    (the error carries `url` and `success: false` for the intranet endpoint's body)."""
    if target not in relay.TARGETS:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "target: must be START or ALL")
    if not app_name:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "tak: this field is required")
    if not backend_ip:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "backend_ip: this field is required")
    if not _valid_ip(backend_ip):
        # The relay connects to backend_ip: a host name or garbage is refused, not passed on.
        raise ApiError(
            http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "backend_ip: must be an IPv4 or IPv6 address"
        )
    try:
        port = int(str(backend_port).strip())
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise ApiError(
            http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "backend_port: must be between 1 and 65535"
        )
    # Accounts store IPs normalized (GenericIPAddressField): "FD00::0010" is the host fd00::10.
    host = str(ipaddress.ip_address(backend_ip))
    task = (
        Task.objects.filter(account__host_ip=host, app_name__iexact=app_name)
        .select_related("account")
        .order_by(
            # the account on that exact port first
            Case(When(account__port=port, then=0), default=1),
            "created_at",
        )
        .first()
    )
    routed = (
        _intranet_through_jobs(task, target=target, source=source, user=user)
        if task is not None
        else _intranet_to_a_pool_robot(host=host, port=port, app_name=app_name, target=target, source=source, user=user)
    )
    if routed is not None:
        return routed
    return _send_raw(
        task=task, target=target, source=source, user=user, host_ip=backend_ip, port=port, app_name=app_name
    )


def _intranet_through_jobs(task: Task, *, target: str, source: str, user) -> ControlRequest | Job | list | None:
    """A START for a known task is a job (a double-click: one START and a 409); an ALL for a
    task with an active job stops that job. None: send it raw (nothing to attach it to)."""
    with _intranet_errors():
        if target == relay.START:
            return start_task(task=task, source=source, user=user)
        if _current_job(task) is not None:
            return stop_task(task=task, source=source, user=user)
    return None


def _intranet_to_a_pool_robot(
    *, host: str, port: int, app_name: str, target: str, source: str, user
) -> ControlRequest | Job | list | None:
    """A pool task runs on every robot of its pool (API.md §12), not only on its own: a request
    addressed to another member is about it too. START starts the pool task (the pool picks the
    free robot, as for a START at its own robot); ALL stops the job that robot runs for the app,
    and only that one. None: no pool task there (send it raw)."""
    # The robot at that exact port first (several accounts may share a host), as for a task.
    if target == relay.START:
        task = (
            Task.objects.filter(pool__accounts__host_ip=host, app_name__iexact=app_name)
            .order_by(Case(When(pool__accounts__port=port, then=0), default=1), "created_at")
            .first()
        )
        return _intranet_through_jobs(task, target=target, source=source, user=user) if task else None
    job = (
        Job.objects.filter(account__host_ip=host, app_name__iexact=app_name, status__in=ACTIVE, pool__isnull=False)
        .order_by(Case(When(account__port=port, then=0), default=1), "created_at")
        .first()
    )
    if job is None:
        return None
    with _intranet_errors():
        job, request = job_services.stop_job(job=job, source=source, user=user)
    return request if request is not None else job


@contextmanager
def _intranet_errors():
    """The intranet endpoint's error body carries `success: false` and the relay `url`."""
    try:
        yield
    except ApiError as exc:
        exc.extra.setdefault("success", False)
        exc.extra.setdefault("url", _url_of(exc))
        raise


def _url_of(exc: ApiError) -> str:
    request_id = exc.extra.get("control_request_id")
    if not request_id:
        return ""
    return ControlRequest.objects.filter(pk=request_id).values_list("relay_url", flat=True).first() or ""


def _send_raw(*, task: Task | None, target: str, source: str, user, host_ip: str, port: int, app_name: str) -> ControlRequest:
    action = ControlAction.START if target == relay.START else ControlAction.STOP
    configured = relay.is_configured()
    request = audit.record(
        action=action,
        target=target,
        source=source,
        user=user,
        shadow_bot_account=task.account.shadow_bot_account if task else "",
        host_ip=host_ip,
        port=port,
        app_name=app_name,
        outcome=ControlOutcome.PENDING if configured else ControlOutcome.SKIPPED,
        error="" if configured else f"RELAY_NOT_CONFIGURED: {job_services.RELAY_NOT_CONFIGURED_MESSAGE}",
    )
    if task is not None:
        request.task = task
        request.save(update_fields=["task"])
    if not configured:
        raise ApiError(
            http.HTTP_503_SERVICE_UNAVAILABLE, "RELAY_NOT_CONFIGURED", job_services.RELAY_NOT_CONFIGURED_MESSAGE, success=False
        )
    try:
        result = relay.send(backend_ip=host_ip, backend_port=port, app_name=app_name, target=target)
    except relay.RelayError as exc:
        request.outcome, request.error, request.relay_url = ControlOutcome.FAILED, exc.reason, exc.url
        request.response_status, request.latency_ms = exc.status, exc.latency_ms
        request.save(update_fields=["outcome", "error", "relay_url", "response_status", "latency_ms"])
        raise ApiError(
            http.HTTP_502_BAD_GATEWAY,
            "CONTROL_REQUEST_FAILED",
            f"control request failed: {exc.reason}",
            success=False,
            url=request.relay_url,
            control_request_id=str(request.pk),
        ) from None
    request.outcome, request.relay_url = ControlOutcome.SENT, result.url
    request.response_status, request.latency_ms = result.status, result.latency_ms
    request.save(update_fields=["outcome", "relay_url", "response_status", "latency_ms"])
    return request


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def control_response(task: Task, sent: ControlRequest | Job | list) -> dict[str, Any]:
    """The §2 control response body: for a request that went out, a force-stop, or a job that
    was queued (robot busy) or cancelled (stopped while queued); for a pool task (API.md §12)
    acting on several jobs (`scope: all`, a stop), `jobs` lists each."""
    if isinstance(sent, list):
        return _several_response(task, sent)
    # The job as the control left it (a request made in this process carries it), else read.
    if isinstance(sent, Job):
        job = sent
    elif ControlRequest.job.is_cached(sent) or sent.job_id is None:
        job = sent.job
    else:
        job = Job.objects.filter(pk=sent.job_id).first()
    if isinstance(sent, Job):
        if sent.status == JobStatus.QUEUED:
            position = queue.position(sent)
            if sent.any_robot and sent.pool_id:
                pool = sent.pool.name if sent.pool else "?"
                message = f"queued: waiting for a free robot of pool {pool} (position {position})"
            elif Job.objects.filter(account_id=sent.account_id, status__in=BUSY).exists():
                message = f"queued: robot {sent.shadow_bot_account} is busy (position {position})"
            else:  # every inline slot of this process was sending: the dispatcher sends it
                message = f"queued: the dispatcher sends it to robot {sent.shadow_bot_account} (position {position})"
        else:
            message = f"job {sent.status}: it was still queued, nothing was sent to the robot"
    elif sent.action == ControlAction.FORCE_STOP:
        message = "task force-stopped" + (
            "; stop request sent to the robot"
            if sent.outcome == ControlOutcome.SENT
            else f"; the stop request to the robot failed ({sent.error})"
        )
    elif sent.action == ControlAction.START:
        message = "start request sent, waiting for robot confirmation"
    else:
        message = "stop request sent, waiting for robot confirmation"
    body = {"success": True, "message": message, "task_id": str(task.pk), "status": task.status}
    if job is not None:
        body.update(job_id=str(job.pk), job_status=job.status)
    return body
