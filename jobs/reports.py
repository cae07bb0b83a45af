"""What robots tell us, attached to jobs (API.md §5): confirm START/STOP, execution reports,
heartbeats.

- A confirm or report moves the task's current (active) job; none active → a job with source
  `robot` is created, so a run started on the robot's own desktop is in the history too.
- `execution_id` equal to a job's id attaches to that job exactly.
- A report whose start_time is earlier than its job's creation by more than
  RPA_CLOCK_SKEW_SECONDS belongs to an earlier run: kept as history, no state changes.
- Robots are matched once, by `Task.objects.match_robot` / `Account.objects.match_robot`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status as http

from accounts import presence
from accounts.models import Account
from jobs import transitions
from jobs.models import ACTIVE, BUSY, Job, JobSource, JobStatus
from rpa_workbench.errors import ApiError
from tasks.models import ControlAction, ControlOutcome, ControlRequest, Task

CONFIRM_ACTIONS = ("START", "STOP")


def _confirm_latest_request(task: Task, actions: list[str], now) -> None:
    """The task's latest unconfirmed request of `actions` is confirmed now (one UPDATE)."""
    latest = ControlRequest.objects.filter(
        task=task,
        action__in=actions,
        confirmed_at__isnull=True,
        outcome__in=[ControlOutcome.PENDING, ControlOutcome.SENT],
    ).order_by("-created_at")
    ControlRequest.objects.filter(pk__in=latest.values("pk")[:1]).update(confirmed_at=now)


def confirm(*, shadow_bot_account: str, app_name: str, action: str, host_ip: str | None = None) -> Task | None:
    """The robot confirms it acted: START → the job running (task and account running);
    STOP → the job stopped (both pending). None when no task matches."""
    if action not in CONFIRM_ACTIONS:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "action: must be START or STOP")
    match = Task.objects.match_robot(shadow_bot_account, app_name, host_ip or None)
    if match is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        task = transitions.lock_task(match.pk, account_id=match.account_id)
        job = transitions.active_job(task, now=now)
        if action == "START":
            _confirm_start(task, job, now)
            _confirm_latest_request(task, [ControlAction.START], now)
        else:
            if job is not None and job.status in BUSY:
                transitions.stopped(job, now=now)
            elif job is None:
                transitions.mark_account_pending(task.account_id)
            Task.objects.filter(pk=task.pk).update(last_seen_at=now)
            _confirm_latest_request(task, [ControlAction.STOP, ControlAction.FORCE_STOP], now)
        presence.record_contact(account_id=task.account_id)
    if action == "START":
        return task  # as the transition left it (its status is all the answer reads)
    return Task.objects.select_related("account").get(pk=match.pk)


def _confirm_start(task: Task, job: Job | None, now) -> None:
    seen = {"last_run_time": now, "last_seen_at": now}
    if job is None:
        transitions.create(task=task, source=JobSource.ROBOT, now=now, status=JobStatus.RUNNING,
                           started_at=now, task_fields=seen, task_locked=True)
    elif job.status in (JobStatus.QUEUED, JobStatus.DISPATCHED):
        job.task = task  # the row just locked: the transition re-uses it
        transitions.confirm_running(job, now=now, task_locked=True)
    else:
        Task.objects.filter(pk=task.pk).update(last_seen_at=now)


def _job_by_execution_id(execution_id: str | None) -> Job | None:
    if not execution_id:
        return None
    try:
        pk = uuid.UUID(str(execution_id))
    except ValueError:
        return None
    return next(iter(Job.objects.filter(pk=pk)), None)


def is_stale(job: Job, log) -> bool:
    """A report from before this job existed (beyond the clock skew) is about an earlier run.
    Jobs we did not create (source robot) have no such moment to compare with."""
    if job.source == JobSource.ROBOT:
        return False
    return log.start_time < job.created_at - timedelta(seconds=settings.RPA_CLOCK_SKEW_SECONDS)


def attach_report(
    *, log, task: Task | None, account: Account | None, robot_status: str, execution_id=None, outputs=None
) -> Job | None:
    """Inside record_execution's transaction: end the job this report is about, if any
    (`outputs`: the run's results, stored on that job, API.md §11)."""
    now = timezone.now()
    extra = {"outputs": outputs} if outputs is not None else {}  # io
    exact = _job_by_execution_id(execution_id)
    if exact is not None:
        if exact.status in ACTIVE and exact.task_id is not None:
            matched = task if task is not None and task.pk == exact.task_id else None
            exact.task = transitions.lock_task(
                exact.task_id, account_id=matched.account_id if matched else None, read_in_transaction=matched
            )
            transitions.finish_reported(exact, now=now, log=log, robot_status=robot_status, task_locked=True, **extra)
        elif exact.status in ACTIVE:
            transitions.finish_reported(exact, now=now, log=log, robot_status=robot_status, **extra)
        elif exact.execution_log_id is None:
            Job.objects.filter(pk=exact.pk).update(execution_log=log)
        return exact
    if task is None:
        return transitions.record_report_without_job(log=log, task=None, account=account, now=now, robot_status=robot_status)
    task = transitions.lock_task(task.pk, account_id=task.account_id, read_in_transaction=task)
    job = transitions.active_job(task, now=now)
    if job is None:
        return transitions.record_report_without_job(
            log=log, task=task, account=task.account, now=now, robot_status=robot_status, task_locked=True, **extra
        )
    if is_stale(job, log):
        return None  # history only: the log is kept, nothing moves
    job.task = task  # the row just locked: the transition re-uses it
    transitions.finish_reported(job, now=now, log=log, robot_status=robot_status, task_locked=True, **extra)
    return job


def record_heartbeat(*, shadow_bot_account: str, app_name: str, host_ip: str | None = None) -> Account | None:
    """A sign of life: account → running, recent_app = app, last_heartbeat_at = now (and the
    matching task's last_seen_at). None when no account has that name (and host)."""
    task = Task.objects.match_robot(shadow_bot_account, app_name, host_ip or None) if app_name else None
    if task is not None:
        account_id = task.account_id
    else:
        account = Account.objects.match_robot(shadow_bot_account, host_ip or None)
        if account is None:
            return None
        account_id = account.pk
    return transitions.record_heartbeat(account_id=account_id, app_name=app_name or None, task_id=task.pk if task else None)
