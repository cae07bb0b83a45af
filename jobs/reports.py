"""What robots tell us, attached to jobs (API.md §5): confirm START/STOP, execution reports,
heartbeats.

- A confirm answers the command it confirms, a report the run it reports (see `confirm` and
  `attach_report`), never whatever job is current; nothing matching → a job with source `robot`,
  so a run started on the robot's own desktop is in the history too.
- `execution_id` equal to a job's id attaches to that job exactly.
- A report whose start_time is earlier than its job's creation by more than
  RPA_CLOCK_SKEW_SECONDS belongs to an earlier run: kept as history, no state changes.
- Robots are matched once, by `Task.objects.match_robot` / `Account.objects.match_robot`.
"""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status as http

from accounts import presence
from accounts.models import Account
from executionlogs.models import ExecutionLog
from executionlogs.services import ROBOT_STATUSES, create_log, find_original, summarise
from jobs import locks, pool_runs, transitions
from jobs.models import ACTIVE, BUSY, FINAL, Job, JobReason, JobSource, JobStatus
from rpa_workbench import events
from rpa_workbench.errors import ApiError
from tasks.models import ControlAction, ControlOutcome, ControlRequest, Task

CONFIRM_ACTIONS = ("START", "STOP")
# Ends whose execution log is our own synthetic one: the robot's real report may still come.
SYNTHETIC_LOG_REASONS = (JobReason.LOST_CONTACT, JobReason.RUN_TIMEOUT)

logger = logging.getLogger(__name__)


def _open_command(task: Task, actions: list[str], now, robot_id=None) -> ControlRequest | None:
    """The task's latest command of `actions` that left (or is leaving) within the confirm window
    and is not confirmed yet: what a robot's confirm answers (`robot_id`: to that robot only,
    for a pool task running on several)."""
    since = now - timedelta(seconds=settings.RPA_START_CONFIRM_SECONDS)
    commands = ControlRequest.objects.filter(job__account_id=robot_id) if robot_id is not None else ControlRequest.objects
    return (
        commands.filter(
            Q(sent_at__gte=since) | Q(sent_at__isnull=True, created_at__gte=since),
            task=task,
            action__in=actions,
            confirmed_at__isnull=True,
            outcome__in=[ControlOutcome.PENDING, ControlOutcome.SENT],
        )
        .order_by("-created_at")
        .first()
    )


def _job_of(command: ControlRequest, task: Task) -> Job | None:
    job = Job.objects.filter(pk=command.job_id).first() if command.job_id else None
    if job is not None and job.task_id == task.pk:
        job.task = task  # the row just locked: the transition re-uses it
    return job


def confirm(*, shadow_bot_account: str, app_name: str, action: str, host_ip: str | None = None) -> Task | None:
    """The robot confirms it acted. A confirm answers the command it confirms (the task's latest
    unconfirmed START or stop sent within RPA_START_CONFIRM_SECONDS): START → that job running;
    STOP → that job stopped; if that job has ended meanwhile (force-stopped, cancelled), nothing
    else moves — never the robot's next job. With no such command (a run the robot started or
    stopped itself): START → the task's current job running (none → a new `robot` job); STOP →
    the current job stopped. None when no task matches."""
    if action not in CONFIRM_ACTIONS:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "action: must be START or STOP")
    match, robot = pool_runs.match_reporter(shadow_bot_account, app_name, host_ip)
    if match is None:
        return None
    scope = pool_runs.robot_scope(match, robot.pk if robot is not None else None)
    now = timezone.now()
    with transaction.atomic():
        task = locks.lock_task(match.pk, account_id=match.account_id, robot_id=scope)
        actions = [ControlAction.START] if action == "START" else [ControlAction.STOP, ControlAction.FORCE_STOP]
        command = _open_command(task, actions, now, robot_id=scope)
        if command is not None:
            ControlRequest.objects.filter(pk=command.pk).update(confirmed_at=now)
            job = _job_of(command, task)
        else:
            job = pool_runs.active_job_on(task, scope) if scope else transitions.active_job(task, now=now)
        if action == "START":
            _confirm_start(task, job, now, answers_command=command is not None, robot=robot if scope else None)
        else:
            if job is not None and job.status in BUSY:
                transitions.stopped(job, now=now)
            elif job is None and command is None:
                transitions.mark_account_pending(scope or task.account_id)
            Task.objects.filter(pk=task.pk).update(last_seen_at=now)
        presence.record_contact(account_id=scope or task.account_id)
    if action == "START":
        return task  # as the transition left it (its status is all the answer reads)
    return Task.objects.select_related("account").get(pk=match.pk)


def _robot_full(robot: Account, job: Job | None) -> bool:
    """Whether the robot's slots are all taken by other jobs (a run it says it started by itself
    would then overlap them: it is not recorded as a busy job)."""
    busy = Job.objects.filter(account_id=robot.pk, status__in=BUSY)
    if job is not None:
        busy = busy.exclude(pk=job.pk)
    return busy.count() >= robot.max_concurrent_jobs


def _confirm_start(task: Task, job: Job | None, now, *, answers_command: bool, robot: Account | None = None) -> None:
    """`robot`: the pool member confirming a pool task's START (None: the task's own robot)."""
    seen = {"last_run_time": now, "last_seen_at": now}
    unsent_by_us = not answers_command and (job is None or job.status == JobStatus.QUEUED)
    full = unsent_by_us and _robot_full(robot or task.account, job)
    if (answers_command and job is not None and job.status not in ACTIVE) or full:
        # Its job ended meanwhile (the stop that ended it follows to the robot), or a START we
        # never sent on a robot whose slots are taken: nothing moves.
        logger.warning("robot confirmed a START of %s it has no slot or live job for: nothing moves", task.app_name)
        Task.objects.filter(pk=task.pk).update(last_seen_at=now)
        return
    if job is None:
        transitions.create(task=task, source=JobSource.ROBOT, now=now, status=JobStatus.RUNNING,
                           started_at=now, task_fields=seen, task_locked=True,
                           robot=pool_runs.robot_for_pool_job(task, robot))
    elif job.status in (JobStatus.QUEUED, JobStatus.DISPATCHED):
        transitions.confirm_running(job, now=now, task_locked=job.task is task)
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
    """A report from before this job was dispatched (beyond the clock skew) is about an earlier
    run. Jobs we did not create (source robot) have no such moment to compare with."""
    if job.source == JobSource.ROBOT:
        return False
    since = job.dispatched_at or job.created_at
    return log.start_time < since - timedelta(seconds=settings.RPA_CLOCK_SKEW_SECONDS)


@functools.cache
def _active_and_ended_sql(vendor: str, on_robot: bool = False) -> str:
    """The statement of `_active_and_ended`, built once per database vendor from the model's
    table and column names. Written as SQL because it is the webhook's costliest query to build:
    the ORM spent 0.8 ms per report compiling its COALESCE and CASE, the SQL costs 0.11 ms
    (bench/README.md, 2026-12-07).

    Two one-row reads joined by UNION ALL, each with the task in it, so each is one index range
    (job_task_status, job_task_finished) however long the task's history; and each has its own
    row: several active jobs (a pool task's running job and the robot's queued one of a
    `scope: all` start) never crowd out the ended run a late report belongs to."""
    opts = Job._meta
    quote = connection.ops.quote_name

    def col(name: str) -> str:
        return quote(opts.get_field(name).column)

    def marks(values) -> str:
        return ", ".join(["%s"] * len(values))

    table = quote(opts.db_table)
    began = f"COALESCE({col('started_at')}, {col('dispatched_at')})"
    # A pool task's jobs on the reporting robot only (API.md §12), not its jobs waiting for any
    # robot (only provisionally on the task's own robot).
    robot = f" AND {col('account')} = %s" if on_robot else ""
    not_waiting = f" AND NOT ({col('status')} = %s AND {col('any_robot')})" if on_robot else ""
    active = (
        f"SELECT * FROM {table} WHERE {col('task')} = %s{robot}{not_waiting} AND {col('status')} IN ({marks(ACTIVE)})"
        f" ORDER BY {began} DESC NULLS LAST LIMIT 1"
    )
    ended = (
        f"SELECT * FROM {table} WHERE {col('task')} = %s{robot} AND {col('finished_at')} >= %s"
        f" AND {col('status')} IN ({marks(FINAL)}) AND {began} <= %s"
        f" AND ({col('execution_log')} IS NULL OR {col('reason')} IN ({marks(SYNTHETIC_LOG_REASONS)}))"
        f" ORDER BY {began} DESC NULLS LAST LIMIT 1"
    )
    return f"SELECT * FROM ({active}) AS active_job UNION ALL SELECT * FROM ({ended}) AS ended_job"


def _active_and_ended_statement(task: Task, start: datetime, robot_id=None) -> tuple[str, list]:
    """The SQL of `_active_and_ended` and its parameters, for a report that began at `start`."""
    skew = timedelta(seconds=settings.RPA_CLOCK_SKEW_SECONDS)
    at = Job._meta.get_field("finished_at")
    task_id = Job._meta.get_field("task").get_db_prep_value(task.pk, connection)
    robot = [Job._meta.get_field("account").get_db_prep_value(robot_id, connection)] if robot_id else []
    not_waiting = [JobStatus.QUEUED] if robot_id else []
    params = [
        task_id, *robot, *not_waiting, *ACTIVE,
        task_id, *robot, at.get_db_prep_value(start - skew, connection), *FINAL,
        at.get_db_prep_value(start + skew, connection),
        *SYNTHETIC_LOG_REASONS,
    ]
    return _active_and_ended_sql(connection.vendor, bool(robot_id)), params


def _active_and_ended(task: Task, log, robot_id=None) -> tuple[Job | None, Job | None]:
    """In one query: the task's active job, and its ended job whose run this report may be about
    (it began — confirmed, else dispatched — no later than the report's start and ended no
    earlier, both within the clock skew, and has no report yet, or only the synthetic log of a
    lost contact or run timeout). `robot_id`: a pool task's jobs on that robot only."""
    rows = list(Job.objects.raw(*_active_and_ended_statement(task, log.start_time, robot_id)))
    active = next((job for job in rows if job.status in ACTIVE), None)
    return active, next((job for job in rows if job.status not in ACTIVE), None)


def attach_report(
    *, log, task: Task | None, account: Account | None, robot_status: str, execution_id=None, outputs=None
) -> Job | None:
    """Inside record_execution's transaction: end the job this report is about, if any.

    A report attaches to the run it reports: the job its `execution_id` names; else the task's
    busy job (dispatched, running, stopping) unless the report started before that job was
    dispatched and an ended job of the task matches its times (a late report of a force-stopped
    or timed-out run); else that ended job (its log attached, nothing moves); a queued job (a
    retry that has not run) is never ended by a report. Nothing matching: the robot's own run,
    kept as a finished `robot` job. `outputs`: the run's results, stored on the job it ends
    (API.md §11)."""
    now = timezone.now()
    extra = {"outputs": outputs} if outputs is not None else {}  # io
    exact = _job_by_execution_id(execution_id)
    if exact is not None:
        if exact.status in BUSY and exact.task_id is not None:
            matched = task if task is not None and task.pk == exact.task_id else None
            exact.task = locks.lock_task(
                exact.task_id, account_id=matched.account_id if matched else None, read_in_transaction=matched,
                robot_id=exact.account_id,  # a pool job's robot, before the task (jobs/locks.py)
            )
            transitions.finish_reported(exact, now=now, log=log, robot_status=robot_status, task_locked=True, **extra)
        elif exact.status in BUSY:
            transitions.finish_reported(exact, now=now, log=log, robot_status=robot_status, **extra)
        elif exact.execution_log_id is None:
            transitions.attach_log(exact, log)
        return exact
    if task is None:
        return transitions.record_report_without_job(log=log, task=None, account=account, now=now, robot_status=robot_status)
    scope = pool_runs.robot_scope(task, account.pk if account is not None else None)
    task = locks.lock_task(task.pk, account_id=task.account_id, read_in_transaction=task, robot_id=scope)
    job, earlier = _active_and_ended(task, log, robot_id=scope)
    if job is not None:
        job = transitions.with_task(job, task)
    elif scope is None:
        job = transitions.adopt_if_running(task, now=now)
    busy = job is not None and job.status in BUSY
    if earlier is not None and busy and log.start_time >= (job.dispatched_at or job.created_at):
        earlier = None  # it started after the current job was dispatched: it is that job's run
    if earlier is not None:
        transitions.attach_log(earlier, log)
        return earlier
    if busy:
        if is_stale(job, log):
            return None  # history only: the log is kept, nothing moves
        job.task = task  # the row just locked: the transition re-uses it
        transitions.finish_reported(job, now=now, log=log, robot_status=robot_status, task_locked=True, **extra)
        return job
    return transitions.record_report_without_job(
        log=log, task=task, account=account if scope else task.account, now=now, robot_status=robot_status,
        task_locked=True, robot=pool_runs.robot_for_pool_job(task, account), **extra,
    )


def record_heartbeat(*, shadow_bot_account: str, app_name: str, host_ip: str | None = None) -> Account | None:
    """A sign of life: account → running, recent_app = app, last_heartbeat_at = now (and the
    matching task's last_seen_at). None when no account has that name (and host)."""
    if app_name:  # the robot's own task, or the pool task it runs the app for (API.md §12)
        task, account = pool_runs.match_reporter(shadow_bot_account, app_name, host_ip)
    else:
        task, account = None, Account.objects.match_robot(shadow_bot_account, host_ip or None)
    if account is None:
        return None
    return transitions.record_heartbeat(account_id=account.pk, app_name=app_name or None, task_id=task.pk if task else None)


# -- execution reports (API.md §5 execution-complete) ------------------------------------------------
def record_execution(
    *,
    shadow_bot_account: str,
    app_name: str,
    status: str,
    start_time: datetime,
    end_time: datetime | None = None,
    duration: float | None = None,
    result_summary: dict[str, Any] | None = None,
    log_info: bool = False,
    screenshot: bool = False,
    screenshot_url: str | None = None,
    log_url: str | None = None,
    host_ip: str | None = None,
    execution_id: str | None = None,
    outputs: dict[str, Any] | None = None,
) -> tuple[ExecutionLog, bool]:
    """Record one finished execution; returns (log, created). A repeat returns the original.

    In one transaction: the log (`executionlogs.services.create_log`, the transaction's first
    write, so a repeat fails before anything else is written and rolls back having written
    nothing), then the job it reports (`attach_report`: the job, task and account move), then
    the robot's presence. `status` is the robot's word (completed | failed | timeout); times must
    be aware. An execution from an unknown account is still recorded, flagged in its text.
    """
    if status not in ROBOT_STATUSES:
        raise ValueError(f"unknown execution status {status!r}")
    if duration is None and end_time is not None:
        duration = (end_time - start_time).total_seconds()
    fields = dict(
        shadow_bot_account=shadow_bot_account, app_name=app_name, status=status, start_time=start_time,
        end_time=end_time, duration=duration, result_summary=result_summary, log_info=log_info,
        screenshot=screenshot, screenshot_url=screenshot_url, log_url=log_url, host_ip=host_ip,
        execution_id=execution_id,
    )
    try:
        with transaction.atomic(), events.batch():
            log = _write(**fields, outputs=outputs)
    except IntegrityError:
        # The insert is the transaction's first write, so the rollback undid nothing else and the
        # on-commit events were discarded with it. Answer with the log that won.
        original = find_original(
            shadow_bot_account=shadow_bot_account, app_name=app_name, start_time=start_time, execution_id=execution_id
        )
        if original is None:  # the conflict was something else: do not hide it
            raise
        logger.info("repeat delivery of execution %s ignored", original.pk)
        if original.account_id is not None:
            with transaction.atomic():  # a repeat is a sign of life all the same
                presence.record_contact(account_id=original.account_id)
        return original, False
    return log, True


def _write(*, shadow_bot_account: str, app_name: str, status: str, host_ip: str | None, result_summary,
           screenshot_url: str | None, log_url: str | None, execution_id: str | None,
           outputs: dict[str, Any] | None = None, **fields: Any) -> ExecutionLog:
    """The writes of `record_execution`, inside its transaction: log first, then job, task, account."""
    task, account = pool_runs.match_reporter(shadow_bot_account, app_name, host_ip)
    log = create_log(
        text=summarise(
            app_name=app_name, robot_status=status, result_summary=result_summary, account_known=account is not None,
            task_known=task is not None, shadow_bot_account=shadow_bot_account,
        ),
        app_name=app_name,
        shadow_bot_account=shadow_bot_account,
        host_ip=host_ip or (account.host_ip if account is not None else None),
        status=ROBOT_STATUSES[status],
        screenshot_path=screenshot_url or None,
        log_content=log_url or None,
        result_summary=result_summary,
        execution_id=execution_id or None,
        account=account,
        task=task,
        **fields,
    )
    attach_report(
        log=log, task=task, account=account, robot_status=status, execution_id=execution_id, outputs=outputs  # io
    )
    if account is not None:
        # In this transaction: a write of its own would wait outside the writers' queue.
        presence.record_contact(account_id=account.pk)
    return log
