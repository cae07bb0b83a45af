"""Job timeouts as transitions (API.md §9), each claimed by the compare-and-set of
`jobs.transitions`, so several dispatchers/schedulers apply each exactly once:

- wait_timeout: queued longer than its wait_timeout_seconds → cancelled/wait_timeout;
- never_confirmed: dispatched, no confirm within RPA_START_CONFIRM_SECONDS of its START's send →
  failed (robot freed); a START still in the outbox is not late, it is unsent;
- run_timeout: running longer than run_timeout_seconds → stopping, its stop queued in the
  outbox (jobs.outbox; the dispatcher sends it) → failed/run_timeout, with a failed execution log;
- lost_contact: running, no confirm or heartbeat for RPA_HEARTBEAT_TIMEOUT → failed, the
  account failed, a failed execution log and a `watchdog` audit row (no stop: it is unreachable).
Execution logs are written by `executionlogs.services.create_log`, the one writer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from executionlogs.models import ExecutionStatus
from executionlogs.services import create_log
from jobs import audit, locks, outbox, transitions
from jobs.models import TASK_RUNNING, Job, JobReason, JobStatus
from tasks.models import ControlAction, ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

logger = logging.getLogger(__name__)


def _describe(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" + ("" if minutes == 1 else "s")
    return f"{seconds} seconds"


def _run_began(job: Job) -> datetime:
    return job.started_at or job.dispatched_at or job.created_at


def failed_log(job: Job, *, now: datetime, text: str, error: str, since: datetime):
    """The synthetic failed execution log of a run that ended without the robot's report (run
    timeout, lost contact, a restarted robot: jobs.idle)."""
    task, account = job.task, job.account
    return create_log(
        text=text,
        app_name=job.app_name,
        shadow_bot_account=job.shadow_bot_account,
        host_ip=job.host_ip,
        status=ExecutionStatus.FAILED,
        start_time=since,
        end_time=now,
        duration=max((now - since).total_seconds(), 0.0),
        result_summary={"error_message": error, "job_id": str(job.pk)},
        account=account,
        task=task,
    )


# -- queued too long -------------------------------------------------------------------------------
def wait_timeouts(now: datetime) -> list[str]:
    """Queued past their wait timeout → cancelled/wait_timeout; queued with their task deleted →
    cancelled at once (it would never be dispatched)."""
    rows = Job.objects.filter(status=JobStatus.QUEUED).values_list("pk", "created_at", "wait_timeout_seconds", "task_id")
    expired = {pk: JobReason.WAIT_TIMEOUT for pk, created, wait, _ in rows if created + timedelta(seconds=wait) < now}
    expired.update({pk: JobReason.CANCELLED for pk, _, _, task_id in rows if task_id is None})
    done = []
    for job in Job.objects.select_related("task", "account").filter(pk__in=list(expired)):
        with transaction.atomic():
            if transitions.cancel(job, now=now, reason=expired[job.pk]) is not None:
                done.append(str(job.pk))
    return done


# -- dispatched, never confirmed ----------------------------------------------------------------------
def _start_sent_at():
    """When the job's START left (its latest START command's send), or None while it is unsent."""
    starts = ControlRequest.objects.filter(job_id=OuterRef("pk"), action=ControlAction.START).order_by("-created_at")
    return Subquery(starts.values("sent_at")[:1])


def never_confirmed(now: datetime) -> list[str]:
    """Dispatched jobs whose START went out more than RPA_START_CONFIRM_SECONDS ago and were never
    confirmed → failed. The window counts from the send: a job claimed but not sent yet (its START
    still in the outbox, e.g. the server died after the claim) is sent, never failed. A job with no
    START command at all (made before the outbox) counts from its dispatch."""
    cutoff = now - timedelta(seconds=settings.RPA_START_CONFIRM_SECONDS)
    unsent = ControlRequest.objects.filter(job_id=OuterRef("pk"), action=ControlAction.START, outcome__in=outbox.UNSENT)
    candidates = (
        Job.objects.select_related("task", "account")
        .filter(status=JobStatus.DISPATCHED, dispatched_at__lt=cutoff)
        .annotate(start_sent_at=_start_sent_at(), start_unsent=Exists(unsent))
        .filter(start_unsent=False)
        .filter(Q(start_sent_at__lt=cutoff) | Q(start_sent_at__isnull=True))
    )
    done = []
    for job in candidates:
        sent_at = job.start_sent_at or job.dispatched_at
        if job.backend == "yingdao" and sent_at + timedelta(seconds=job.wait_timeout_seconds) > cutoff:
            # It may wait in Yingdao's own queue for waitTimeoutSeconds (Yingdao then ends it, and
            # reconciliation asks meanwhile): failing it earlier would retry it beside that run.
            continue
        message = f"the robot did not confirm the start within {_describe(settings.RPA_START_CONFIRM_SECONDS)}"
        with transaction.atomic():
            moved = transitions.fail(
                job, now=now, reason=JobReason.NEVER_CONFIRMED, expected=[JobStatus.DISPATCHED], message=message
            )
        if moved is not None:
            done.append(str(job.pk))
    return done


# -- running too long -----------------------------------------------------------------------------------
def run_timeouts(now: datetime) -> list[str]:
    """Expired runs → stopping/run_timeout, each with its stop queued in the outbox in the same
    transaction (no backend call here: the sweep never waits on a robot). The dispatcher sends
    the stop, then `finish_run_timeout` ends the job; until then its robot's slot stays taken."""
    rows = Job.objects.filter(status=JobStatus.RUNNING).values_list("pk", "started_at", "run_timeout_seconds")
    expired = [pk for pk, started, limit in rows if started and started + timedelta(seconds=limit) < now]
    done = []
    for job in Job.objects.select_related("task", "account").filter(pk__in=expired):
        with transaction.atomic():
            if transitions.begin_stop(job, now=now, reason=JobReason.RUN_TIMEOUT) is not None:
                outbox.queue_stop(job, source=ControlSource.WATCHDOG)
                done.append(str(job.pk))
    return done


def after_stop_sent(job: Job, outcome) -> None:
    """The outbox sent (or failed to send) a plain stop: a run-timeout job now ends."""
    if job.status == JobStatus.STOPPING and job.reason == JobReason.RUN_TIMEOUT:
        finish_run_timeout(job, outcome=outcome, now=timezone.now())


def finish_run_timeout(job: Job, *, outcome, now: datetime) -> bool:
    """After its stop was sent: the timed-out job ends failed/run_timeout with a failed log."""
    text = (
        f"Run timeout: {job.app_name} on {job.shadow_bot_account} ran longer than "
        f"{_describe(job.run_timeout_seconds)}; the stop was "
        + ("sent." if outcome.ok else f"not delivered ({outcome.error or outcome.message}).")
    )
    with transaction.atomic():
        log = failed_log(job, now=now, text=text, error="run timeout", since=_run_began(job))
        if transitions.fail(job, now=now, reason=JobReason.RUN_TIMEOUT, expected=[JobStatus.STOPPING], log=log, message=text):
            return True
        transaction.set_rollback(True)  # the robot's own stop or report came first
    return False


# -- lost contact (the watchdog) ---------------------------------------------------------------------------
def silent_since(cutoff: datetime) -> Q:
    """Running tasks with no sign of life after `cutoff`: `last_seen_at` (confirm, heartbeat),
    else `last_run_time`, else `updated_at` (a row made running by hand). A pool task runs on
    several robots: its jobs are watched one by one (`silent_pool_jobs`)."""
    return Q(status=TaskStatus.RUNNING, pool__isnull=True) & (
        Q(last_seen_at__lt=cutoff)
        | Q(last_seen_at__isnull=True, last_run_time__lt=cutoff)
        | Q(last_seen_at__isnull=True, last_run_time__isnull=True, updated_at__lt=cutoff)
    )


def mark_lost(*, task_id, now: datetime, timeout: int):
    """End the task's running job failed/lost_contact if it is still silent; returns the failed
    execution log, or None when a heartbeat or another watchdog came first."""
    cutoff = now - timedelta(seconds=timeout)
    with transaction.atomic():
        if not Task.objects.filter(silent_since(cutoff), pk=task_id).exists():
            return None
        task = locks.lock_task(task_id)
        if not Task.objects.filter(silent_since(cutoff), pk=task_id).exists():
            return None  # a heartbeat landed while we waited for the lock
        job = transitions.active_job(task, now=now)
        if job is None or job.status not in TASK_RUNNING:
            return None
        message = _end_lost(job, task, task.account, task.last_seen_at or task.last_run_time or task.updated_at,
                            now=now, timeout=timeout)
        if message is None:
            return None
    logger.warning("watchdog: %s", message)
    return job.execution_log


def _end_lost(job: Job, task: Task, account, last_seen: datetime, *, now: datetime, timeout: int) -> str | None:
    """Inside the caller's transaction, which holds the robot's and the task's locks: the job ends
    failed/lost_contact with a failed execution log starting at the run's own start (ours, not the
    robot's last report's start_time, which is another log's idempotency key: reusing it failed
    every pass and left the job stuck) and a `watchdog` audit row. The message, or None when the
    job moved first (the transaction is then rolled back)."""
    message = (
        f"Contact lost: no confirm or heartbeat from robot {account.shadow_bot_account} "
        f"({account.host_ip}:{account.port}) for {_describe(timeout)} while running {job.app_name} "
        f"(last seen {timezone.localtime(last_seen):%Y-%m-%d %H:%M:%S %Z}); marked failed by the watchdog."
    )
    log = failed_log(job, now=now, text=message, error="contact lost", since=_run_began(job))
    if transitions.fail(job, now=now, reason=JobReason.LOST_CONTACT, expected=list(TASK_RUNNING), log=log, message=message) is None:
        transaction.set_rollback(True)
        return None
    audit.record(
        job=job, task=task, action=ControlAction.FORCE_STOP, target="", source=ControlSource.WATCHDOG,
        outcome=ControlOutcome.SKIPPED, error=message + " No stop request was sent (the robot is unreachable).",
    )
    return message


def silent_pool_jobs(cutoff: datetime) -> Q:
    """Running jobs of pool tasks whose robot gave no sign of life (heartbeat, confirm, report:
    its `last_seen_at`) after `cutoff`, nor since the run began: one robot's silence is its own
    job's, whatever the pool's other robots say (API.md §12)."""
    began = Q(started_at__lt=cutoff) | Q(started_at__isnull=True, dispatched_at__lt=cutoff)
    silent = Q(account__last_seen_at__lt=cutoff) | Q(account__last_seen_at__isnull=True)
    return Q(status__in=TASK_RUNNING, pool__isnull=False, task__isnull=False, account__isnull=False) & began & silent


def mark_lost_pool_job(*, job_id, now: datetime, timeout: int):
    """`mark_lost` for one job of a pool task: its robot, then the task, locked (the one order)."""
    cutoff = now - timedelta(seconds=timeout)
    with transaction.atomic():
        job = Job.objects.filter(silent_pool_jobs(cutoff), pk=job_id).select_related("account").first()
        if job is None:
            return None
        job.task = locks.lock_task(job.task_id, robot_id=job.account_id)
        if not Job.objects.filter(silent_pool_jobs(cutoff), pk=job_id).exists():
            return None  # a sign of life landed while we waited for the locks
        last_seen = job.account.last_seen_at or job.started_at or job.dispatched_at
        message = _end_lost(job, job.task, job.account, last_seen, now=now, timeout=timeout)
        if message is None:
            return None
    logger.warning("watchdog: %s", message)
    return job.execution_log


def check_lost(*, now: datetime | None = None, timeout: int | None = None) -> list[str]:
    """Mark every silent running task's job lost; returns the ids of the tasks marked."""
    now = now or timezone.now()
    timeout = settings.RPA_HEARTBEAT_TIMEOUT if timeout is None else timeout
    cutoff = now - timedelta(seconds=timeout)
    lost: list[str] = []
    for task_id in list(Task.objects.filter(silent_since(cutoff)).values_list("pk", flat=True)):
        try:
            if mark_lost(task_id=task_id, now=now, timeout=timeout) is not None:
                lost.append(str(task_id))
        except Exception:
            logger.exception("watchdog: could not mark task %s lost", task_id)
    for job_id, task_id in list(Job.objects.filter(silent_pool_jobs(cutoff)).values_list("pk", "task_id")):
        try:
            if mark_lost_pool_job(job_id=job_id, now=now, timeout=timeout) is not None:
                lost.append(str(task_id))
        except Exception:
            logger.exception("watchdog: could not mark job %s lost", job_id)
    return lost


def sweep(*, now: datetime | None = None) -> list[str]:
    """The dispatcher's timeouts (lost contact runs with the scheduler's watchdog)."""
    now = now or timezone.now()
    done: list[str] = []
    for step in (wait_timeouts, never_confirmed, run_timeouts):
        try:
            done += step(now)
        except Exception:
            logger.exception("jobs: %s failed", step.__name__)
    return done
