"""Every job transition, and therefore every change of a task's and an account's `status`.

Rules (docs/jobs.md):
- a transition is a compare-and-set, `UPDATE job SET status=<new> WHERE id=<id> AND status IN
  <expected>`, allowed only if `jobs.models.TRANSITIONS` lists it; it returns None when the job
  was no longer in an expected status (someone else moved it first);
- it runs inside the caller's short transaction (each public function here opens one), and in the
  same transaction the task's derived status (running while its job is running or stopping) and
  the account's status (the result of its latest activity) are written and the events of API.md
  §6 (`job_updated`, `task_updated`, `account_updated`) recorded, published after commit;
- a job that ends `failed` for a retried reason is followed, in the same transaction, by its
  retry (API.md §9); a job leaving its robot's slot wakes the dispatcher after commit;
- `HOOKS` are called inside the transaction with each `Transition` (old and new status): the
  alerts app raises its alerts from there, atomically with the change.
No other module writes `Task.status` or `Account.status` (jobs/tests/test_conventions.py).

Rows are locked in the one order written in jobs/locks.py (account, task, job, then the rest).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, AccountStatus
from accounts.services import TRACKED_FIELDS as ACCOUNT_TRACKED_FIELDS
from jobs import wakeup
from jobs.backends import in_transaction
from jobs.locks import lock_robot, transaction_locks_everything
from jobs.models import (
    ACTIVE,
    BUSY,
    FINAL,
    RETRIED_REASONS,
    TASK_RUNNING,
    TRANSITIONS,
    Job,
    JobReason,
    JobSource,
    JobStatus,
    robot_columns,
    snapshot_of,
)
from rpa_workbench import events
from tasks.models import TASK_TRACKED_FIELDS, Task, TaskStatus

logger = logging.getLogger(__name__)

JOB_TRACKED_FIELDS = (
    "status",
    "account_id",
    "reason",
    "external_id",
    "not_before",
    "dispatched_at",
    "started_at",
    "finished_at",
    "execution_log_id",
    "outputs",
)
ACCOUNT_FIELDS = ("status", "recent_app", "end_time")


@dataclass(frozen=True)
class Transition:
    """One move of one job: `old` is None when the job was just created."""

    job: Job
    old: str | None
    new: str
    reason: str | None
    task_status: tuple[str, str] | None = None
    account_status: tuple[str, str] | None = None


# Called inside the transaction with every Transition (e.g. the alerts app's raise_alert).
HOOKS: list[Callable[[Transition], None]] = []


def _require_transaction() -> None:
    if not in_transaction():
        raise RuntimeError("job transitions run inside the caller's transaction.atomic()")


def _expected_for(new: str) -> list[str]:
    return [status for status, targets in TRANSITIONS.items() if new in targets]


def after_commit_wake_dispatcher() -> None:
    transaction.on_commit(lambda: wakeup.kick())


# -- the one compare-and-set ---------------------------------------------------------------------
def move(
    job: Job,
    new: str,
    *,
    now: datetime,
    expected: tuple[str, ...] | list[str] | None = None,
    reason: str | None = None,
    account_result: dict[str, Any] | None = None,
    task_fields: dict[str, Any] | None = None,
    task_locked: bool = False,
    **fields: Any,
) -> Transition | None:
    """Move `job` to `new` if it is still in one of `expected` (default: every status the table
    allows `new` from). Writes the derived task and account state and records the events.

    `account_result` overrides what the account is set to on an end (e.g. a report's end time);
    `task_fields` are extra task columns written with its status (last_run_time, last_seen_at).
    `task_locked`: `job.task` is the row `lock_task` returned in this transaction (its account
    locked first and loaded with it), so neither is read again."""
    _require_transaction()
    allowed_from = _expected_for(new)
    expected = list(expected) if expected is not None else allowed_from
    illegal = [status for status in expected if status not in allowed_from]
    if illegal:
        raise ValueError(f"transition {illegal} → {new} is not in jobs.models.TRANSITIONS")
    locked = job.task if task_locked else None
    if locked is None:
        lock_robot(job.account_id)
        if job.task_id is not None and not transaction_locks_everything():
            # The task before the job (the lock order); its account, locked just above, read with it.
            locked = Task.objects.select_for_update(of=("self",)).select_related("account").filter(pk=job.task_id).first()
    values: dict[str, Any] = {"status": new, "updated_at": now, **fields}
    if reason is not None or new in FINAL:
        values["reason"] = reason  # an end states its own reason, or none (never a stale one)
    if new in (JobStatus.DISPATCHED,):
        values.setdefault("dispatched_at", now)
    if new == JobStatus.RUNNING:
        values.setdefault("started_at", now)
    if new in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELLED):
        values.setdefault("finished_at", now)
    if not Job.objects.filter(pk=job.pk, status__in=expected).update(**values):
        return None
    before = events.snapshot(job, JOB_TRACKED_FIELDS)
    old = job.status
    for name, value in values.items():
        setattr(job, name, value)
    events.publish_job_updated(job, events.changed(before, job))
    task_status = _sync_task(job, now, task_fields or {}, locked)
    account_status = _sync_account(job, now, account_result, locked)
    transition = Transition(job, old, new, job.reason, task_status, account_status)
    _run_hooks(transition)
    if old in BUSY and new not in BUSY:
        after_commit_wake_dispatcher()
    if new == JobStatus.FAILED and job.reason in RETRIED_REASONS:
        _maybe_retry(job, now)
    return transition


def create(
    *,
    task: Task,
    source: str,
    now: datetime,
    user=None,
    priority: str | None = None,
    run_timeout_seconds: int | None = None,
    wait_timeout_seconds: int | None = None,
    status: str = JobStatus.QUEUED,
    task_fields: dict[str, Any] | None = None,
    task_locked: bool = False,
    robot: Account | None = None,
    **fields: Any,
) -> Job:
    """A new job for `task` (inside the caller's transaction, which has checked that the task
    has no active job, or that it is a pool task). A robot's own run is created straight as
    `running` or ended. `task_locked`: `task` is the row `lock_task` returned in this transaction.
    A queued job of a pool task waits for any robot of the pool (`any_robot`) unless `robot`
    names the member it must run on (a `scope: all` start, its retries, a robot's own run)."""
    _require_transaction()
    account = robot or task.account
    locked = task if task_locked else None
    if locked is None:
        lock_robot(account.pk)
    priority = priority or task.priority
    snapshot = snapshot_of(task, priority)
    if robot is not None:
        snapshot.update(account=robot, shadow_bot_account=robot.shadow_bot_account, host_ip=robot.host_ip)
    fields.setdefault("any_robot", task.pool_id is not None and robot is None and status == JobStatus.QUEUED)
    job = Job.objects.create(
        **snapshot,
        status=status,
        source=source,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        backend=account.dispatch_backend,
        run_timeout_seconds=run_timeout_seconds or task.run_timeout_seconds or settings.RPA_JOB_RUN_TIMEOUT_SECONDS,
        wait_timeout_seconds=wait_timeout_seconds
        or task.wait_timeout_seconds
        or settings.RPA_JOB_WAIT_TIMEOUT_SECONDS,
        created_at=fields.pop("created_at", now),
        **fields,
    )
    events.publish_job_updated(job, {"created": True, **events.snapshot(job, ("status", "priority", "source"))})
    task_status = _sync_task(job, now, task_fields or {}, locked)
    # A robot's run reported when already over sets the account itself (record_report_without_job).
    account_status = _sync_account(job, now, None, locked) if status == JobStatus.RUNNING else None
    _run_hooks(Transition(job, None, status, job.reason, task_status, account_status))
    if status == JobStatus.QUEUED:
        after_commit_wake_dispatcher()
    return job


def _run_hooks(transition: Transition) -> None:
    for hook in HOOKS:
        hook(transition)


# -- derived state ---------------------------------------------------------------------------------
def _locked_task(job: Job, locked: Task | None) -> Task:
    """The job's task row under lock: `locked` when it is that row, else locked now."""
    if locked is not None and locked.pk == job.task_id:
        return locked
    return Task.objects.select_for_update().select_related("account").get(pk=job.task_id)


def _sync_task(job: Job, now: datetime, extra: dict[str, Any], locked: Task | None = None) -> tuple[str, str] | None:
    """The task follows its (only) active job: running while it runs or is being stopped, the
    START_PENDING claim while it is dispatched."""
    if job.task_id is None:
        return None
    task = _locked_task(job, locked)
    job.task = task
    before = events.snapshot(task, TASK_TRACKED_FIELDS)
    written = ("status", "start_requested_at", *extra)
    unchanged = events.snapshot(task, written)
    old_status = task.status
    running = job.status in TASK_RUNNING or (task.pool_id is not None and _other_job_of_task_running(job))
    task.status = TaskStatus.RUNNING if running else TaskStatus.PENDING
    task.start_requested_at = job.dispatched_at if job.status == JobStatus.DISPATCHED else None
    for name, value in extra.items():
        setattr(task, name, value)
    if events.changed(unchanged, task):  # a job queued behind a pending task writes nothing
        task.save(update_fields=[*written, "updated_at"])
    events.publish_task_updated(task, events.changed(before, task))
    return (old_status, task.status) if old_status != task.status else None


def _other_job_of_task_running(job: Job) -> bool:
    """A pool task runs several jobs at once: it is running while any of them is."""
    return Job.objects.filter(task_id=job.task_id, status__in=TASK_RUNNING).exclude(pk=job.pk).exists()


def _other_job_running(job: Job) -> bool:
    return Job.objects.filter(account_id=job.account_id, status__in=TASK_RUNNING).exclude(pk=job.pk).exists()


def _account_target(job: Job, now: datetime, result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the account's status becomes after this job's move (None: unchanged)."""
    if job.status == JobStatus.RUNNING:
        return {"status": AccountStatus.RUNNING, "recent_app": job.app_name}
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        if job.started_at is None:
            return None  # it never ran (dispatch failed, never confirmed): the robot did nothing
        values = {"status": job.status, "recent_app": job.app_name, "end_time": now}
        values.update(result or {})
        return None if _other_job_running(job) else values
    if job.status == JobStatus.STOPPED:
        return None if _other_job_running(job) else {"status": AccountStatus.PENDING}
    return None


def _locked_account(account_id, locked: Task | None) -> Account:
    """The account row under lock: the one `lock_task` loaded with `locked` (after locking it),
    else locked now."""
    if locked is not None and locked.account_id == account_id:
        return locked.account
    return Account.objects.select_for_update(no_key=True).get(pk=account_id)


def _sync_account(
    job: Job, now: datetime, result: dict[str, Any] | None, locked: Task | None = None
) -> tuple[str, str] | None:
    values = _account_target(job, now, result)
    if job.account_id is None or values is None:
        return None
    return _write_account(_locked_account(job.account_id, locked), values)


def _write_account(account: Account, values: dict[str, Any]) -> tuple[str, str] | None:
    before = events.snapshot(account, ACCOUNT_TRACKED_FIELDS)
    old_status = account.status
    for name, value in values.items():
        setattr(account, name, value)
    account.save(update_fields=[*values, "updated_at"])
    events.publish_account_updated(account, events.changed(before, account))
    return (old_status, account.status) if old_status != account.status else None


# -- retries -----------------------------------------------------------------------------------------
def _maybe_retry(job: Job, now: datetime) -> Job | None:
    """API.md §9: a failed job (retried reasons only) is followed by a queued one while its
    attempt ≤ the task's max_retries, not before end + retry_delay_seconds."""
    task = job.task if job.task_id else None
    if task is None or job.attempt > task.max_retries:
        return None
    if task.pool_id is None and Job.objects.filter(task_id=task.pk, status__in=ACTIVE).exists():
        return None  # someone started the task again already (a pool task runs several at once)
    pinned = job.pool_id is not None and not job.any_robot and job.account_id is not None
    return create(
        task=task,
        source=JobSource.RETRY,
        now=now,
        priority=job.priority,
        run_timeout_seconds=job.run_timeout_seconds,
        wait_timeout_seconds=job.wait_timeout_seconds,
        attempt=job.attempt + 1,
        retry_of=job,
        not_before=now + timedelta(seconds=task.retry_delay_seconds),
        inputs=[dict(item) for item in job.inputs] if job.inputs is not None else None,  # the original's (API.md §11)
        robot=job.account if pinned and task.pool_id is not None else None,  # a `scope: all` job stays on its robot
    )


# -- named transitions --------------------------------------------------------------------------------
def active_job(task: Task, *, now: datetime, adopt: bool = True) -> Job | None:
    """The task's one active job. A task found running without one (data from before jobs, or a
    row made running by hand) is adopted: it gets a running job with source `robot`."""
    _require_transaction()
    job = next(iter(Job.objects.filter(task_id=task.pk, status__in=ACTIVE).order_by()[:1]), None)
    if job is not None:
        return with_task(job, task)
    return adopt_if_running(task, now=now) if adopt else None


def with_task(job: Job, task: Task) -> Job:
    """`job` with the caller's task row (locked by lock_task where it moves the job)."""
    job.task = task
    if job.account_id == task.account_id:
        job.account = task.account
    return job


def adopt_if_running(task: Task, *, now: datetime) -> Job | None:
    """A task found running without an active job gets a running job with source `robot`."""
    if task.status != TaskStatus.RUNNING:
        return None
    started = task.last_run_time or task.last_seen_at or now
    job = Job.objects.create(
        **snapshot_of(task, task.priority),
        status=JobStatus.RUNNING,
        source=JobSource.ROBOT,
        backend=task.account.dispatch_backend,
        run_timeout_seconds=task.run_timeout_seconds or settings.RPA_JOB_RUN_TIMEOUT_SECONDS,
        wait_timeout_seconds=task.wait_timeout_seconds or settings.RPA_JOB_WAIT_TIMEOUT_SECONDS,
        message="adopted: the task was running without a job",
        created_at=started,
        started_at=started,
    )
    events.publish_job_updated(job, {"created": True, "status": job.status, "source": job.source})
    return job


def dispatch(job: Job, *, now: datetime, task_locked: bool = False, robot: Account | None = None) -> Transition | None:
    """queued → dispatched on `robot` (the claim holds its lock): a pool job waiting for any robot
    records the robot that takes it (API.md §12); other jobs are already on theirs."""
    fields: dict[str, Any] = {}
    if robot is not None and robot.pk != job.account_id:
        fields = robot_columns(robot)
    moved = move(job, JobStatus.DISPATCHED, now=now, expected=[JobStatus.QUEUED], task_locked=task_locked, **fields)
    if moved is not None and robot is not None:
        job.account = robot
    return moved


def fail_dispatch(job: Job, *, now: datetime, message: str) -> Transition | None:
    return move(
        job, JobStatus.FAILED, now=now, expected=[JobStatus.DISPATCHED], reason=JobReason.DISPATCH_FAILED, message=message
    )


def confirm_running(job: Job, *, now: datetime, task_locked: bool = False) -> Transition | None:
    return move(
        job,
        JobStatus.RUNNING,
        now=now,
        expected=[JobStatus.QUEUED, JobStatus.DISPATCHED],
        task_fields={"last_run_time": now, "last_seen_at": now},
        task_locked=task_locked,
    )


def begin_stop(job: Job, *, now: datetime, reason: str | None = None) -> Transition | None:
    return move(job, JobStatus.STOPPING, now=now, expected=[JobStatus.DISPATCHED, JobStatus.RUNNING], reason=reason)


def stopped(job: Job, *, now: datetime, reason: str | None = None, expected=None) -> Transition | None:
    """The robot confirmed a stop, or an operator force-stopped (reason force_stopped). A job
    being stopped for its run timeout ends failed/run_timeout instead."""
    if job.reason == JobReason.RUN_TIMEOUT and reason is None:
        return move(job, JobStatus.FAILED, now=now, expected=[JobStatus.STOPPING], reason=JobReason.RUN_TIMEOUT)
    return move(job, JobStatus.STOPPED, now=now, expected=expected or list(BUSY), reason=reason)


def cancel(job: Job, *, now: datetime, reason: str = JobReason.CANCELLED) -> Transition | None:
    return move(job, JobStatus.CANCELLED, now=now, expected=[JobStatus.QUEUED], reason=reason)


def fail(job: Job, *, now: datetime, reason: str, expected, log=None, message: str = "") -> Transition | None:
    """Ends a job failed for a timeout or lost contact (`log`: the failed execution log written)."""
    fields: dict[str, Any] = {"message": message} if message else {}
    if log is not None:
        fields["execution_log"] = log
    return move(job, JobStatus.FAILED, now=now, expected=expected, reason=reason, **fields)


def _report_reason(log, robot_status: str) -> str | None:
    if log.status == JobStatus.COMPLETED:
        return None
    return JobReason.ROBOT_REPORTED_TIMEOUT if robot_status == "timeout" else JobReason.ROBOT_REPORTED_FAILURE


def finish_reported(
    job: Job, *, now: datetime, log, robot_status: str, task_locked: bool = False, **fields: Any
) -> Transition | None:
    """The robot's execution report ends the job: completed, or failed with the robot's reason
    (`fields`: the run's `outputs`, API.md §11)."""
    new, reason = log.status, _report_reason(log, robot_status)
    last_run = _not_earlier(job.task.last_run_time if job.task_id else None, log.start_time)
    return move(
        job,
        new,
        now=now,
        expected=list(BUSY),
        reason=reason,
        execution_log=log,
        started_at=job.started_at or log.start_time,
        account_result={"end_time": log.end_time or log.start_time},
        task_fields={"last_run_time": last_run},
        task_locked=task_locked,
        **fields,
    )


def record_report_without_job(
    *,
    log,
    task: Task | None,
    account: Account | None,
    now: datetime,
    robot_status: str = "completed",
    task_locked: bool = False,
    **fields: Any,
) -> Job | None:
    """A report no active job was waiting for (a run started on the robot itself, or a late
    report): history as a finished `robot` job; the account's result only if it is the latest.
    `task_locked`: `task` is the row `lock_task` returned in this transaction."""
    _require_transaction()
    job = None
    if task is not None:
        job = create(
            task=task,
            source=JobSource.ROBOT,
            now=now,
            status=log.status,
            reason=_report_reason(log, robot_status),
            execution_log=log,
            created_at=log.start_time,
            started_at=log.start_time,
            finished_at=log.end_time or now,
            task_fields={"last_run_time": _not_earlier(task.last_run_time, log.start_time)},
            task_locked=task_locked,
            **fields,
        )
    if account is not None:
        account = _locked_account(account.pk, task if task_locked else None)
        end = log.end_time or log.start_time
        latest = account.end_time is None or end >= account.end_time
        running_elsewhere = Job.objects.filter(account_id=account.pk, status__in=TASK_RUNNING).exists()
        if latest and not running_elsewhere:
            _write_account(account, {"status": log.status, "recent_app": log.app_name, "end_time": end})
    return job


def attach_log(job: Job, log) -> None:
    """A robot's report of a job that has already ended (force-stopped, timed out, lost): its log
    is attached to that job; nothing else moves."""
    _require_transaction()
    if Job.objects.filter(pk=job.pk).update(execution_log=log, updated_at=timezone.now()):
        job.execution_log = log
        events.publish_job_updated(job, {"execution_log_id": log.pk})


def store_external_id(job: Job, external_id: str) -> bool:
    """The backend's id of the job (e.g. Yingdao's jobUuid), stored once: never overwritten."""
    _require_transaction()
    stored = Job.objects.filter(pk=job.pk).filter(Q(external_id__isnull=True) | Q(external_id="")).update(
        external_id=external_id, updated_at=timezone.now()
    )
    if stored:
        job.external_id = external_id
        events.publish_job_updated(job, {"external_id": external_id})
    return bool(stored)


def record_seen(job: Job, *, now: datetime) -> None:
    """A sign of life of the job's run from its backend (e.g. Yingdao saying "still running"):
    the task's last_seen_at, which the lost-contact watchdog reads (one statement)."""
    if job.task_id is not None:
        Task.objects.filter(pk=job.task_id).update(last_seen_at=now)


def _not_earlier(current: datetime | None, candidate: datetime) -> datetime:
    """last_run_time never moves back (a late report of an earlier run does not rewind it)."""
    return candidate if current is None or candidate > current else current


# -- account activity without a job move --------------------------------------------------------------
def record_heartbeat(*, account_id, app_name: str | None, task_id=None) -> Account:
    """A robot's heartbeat: account → running, recent_app, last_heartbeat_at (and the task's
    last_seen_at, which the lost-contact watchdog reads)."""
    now = timezone.now()
    with transaction.atomic():
        account = Account.objects.select_for_update(no_key=True).get(pk=account_id)
        values: dict[str, Any] = {"status": AccountStatus.RUNNING, "last_heartbeat_at": now}
        if app_name:
            values["recent_app"] = app_name
        before = events.snapshot(account, (*ACCOUNT_TRACKED_FIELDS, "last_heartbeat_at"))
        for name, value in values.items():
            setattr(account, name, value)
        account.save(update_fields=[*values, "updated_at"])
        if task_id is not None:
            Task.objects.filter(pk=task_id).update(last_seen_at=now)
        events.publish_account_updated(account, events.changed(before, account))
        from accounts import presence  # accounts.presence → alerts → jobs: imported when used

        presence.record_contact(account_id=account_id)
    return account


def mark_account_pending(account_id) -> None:
    """A confirmed STOP with no job to stop: the account is idle (if nothing else runs on it)."""
    _require_transaction()
    if Job.objects.filter(account_id=account_id, status__in=TASK_RUNNING).exists():
        return
    account = Account.objects.select_for_update(no_key=True).get(pk=account_id)
    _write_account(account, {"status": AccountStatus.PENDING})
