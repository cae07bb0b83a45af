"""The idle heartbeat (docs/api.md §5, "What a robot's listener sends"): `POST /webhook/heartbeat`
naming no app means "I am here and run nothing".

A robot that restarted (its listener, the Yingdao client, the demo's simulator) forgets what it
ran; its first idle heartbeat tells us so. Every job we still think it runs ends:

- `running` → failed / `robot_restarted`, with a failed execution log, retried like
  `lost_contact` while the task has retries left;
- `stopping` → stopped (the stop took effect);
- `dispatched` jobs are left alone: the START may still be on its way (`never_confirmed` ends
  them if it never arrives).

A job confirmed less than IDLE_GRACE ago is kept: an idle heartbeat sent just before the START
arrived may be delivered just after the confirm. Each end is a compare-and-set of
`jobs.transitions` under the usual lock order (account, task, job).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import presence
from accounts.models import Account, AccountStatus
from jobs import locks, transitions
from jobs.models import Job, JobReason, JobStatus
from jobs.timeouts import failed_log
from rpa_workbench import events

logger = logging.getLogger(__name__)

IDLE_GRACE = timedelta(seconds=15)


def record_idle_heartbeat(*, shadow_bot_account: str, host_ip: str | None = None) -> Account | None:
    """`POST /webhook/heartbeat` with no app: the robot is here and runs nothing. Stamps
    `last_heartbeat_at` and the presence (as an idle heartbeat), ends the jobs it no longer
    runs, and puts a `running` account with nothing left running back to `pending`.
    None when no account has that name (and host)."""
    account = Account.objects.match_robot(shadow_bot_account, host_ip or None)
    if account is None:
        return None
    now = timezone.now()
    end_jobs_not_running(account_id=account.pk, now=now)
    with transaction.atomic():
        locks.lock_robot(account.pk)
        Account.objects.filter(pk=account.pk).update(last_heartbeat_at=now)
        if Account.objects.filter(pk=account.pk, status=AccountStatus.RUNNING).exists():
            transitions.mark_account_pending(account.pk)  # unless a job still runs there
        account = Account.objects.get(pk=account.pk)
        events.publish_account_updated(account, {"last_heartbeat_at": account.last_heartbeat_at})
        presence.record_contact(account_id=account.pk, idle=True)
    return account


def end_jobs_not_running(*, account_id, now: datetime | None = None) -> list[Job]:
    """The robot `account_id` said it is idle: end its running and stopping jobs (see above).
    Returns the jobs this call ended (another process may have ended some first)."""
    now = now or timezone.now()
    candidates = Job.objects.filter(
        account_id=account_id,
        status__in=[JobStatus.RUNNING, JobStatus.STOPPING],
        started_at__lt=now - IDLE_GRACE,
    ).values_list("pk", "task_id")
    ended = []
    for job_id, task_id in list(candidates):
        job = _end_one(job_id=job_id, task_id=task_id, account_id=account_id, now=now)
        if job is not None:
            ended.append(job)
    return ended


def _end_one(*, job_id, task_id, account_id, now: datetime) -> Job | None:
    """One job, in one transaction. Its failed log is the transaction's first write, as a robot's
    report writes its log first: when the robot's own report of this run arrives at the same
    moment, the two meet on the log's unique key before either takes a row lock (no deadlock),
    and whichever commits first decides how the job ended."""
    try:
        with transaction.atomic():
            job = Job.objects.select_related("account").filter(pk=job_id).first()
            if job is None or job.status not in (JobStatus.RUNNING, JobStatus.STOPPING):
                return None
            stopping = job.status == JobStatus.STOPPING and job.reason != JobReason.RUN_TIMEOUT
            message = (
                f"Robot restarted: {job.shadow_bot_account} ({job.host_ip}) reported idle while "
                f"{job.app_name} was running; the run is lost."
            )
            log = None
            if not stopping:
                log = failed_log(job, now=now, text=message, error="robot restarted", since=job.started_at or now)
            task = locks.lock_task(task_id, account_id=account_id) if task_id else None
            if task is None:
                locks.lock_robot(account_id)
            job.refresh_from_db(fields=["status", "reason"])
            if task is not None:
                job.task = task
            if stopping:
                moved = transitions.stopped(job, now=now, expected=[JobStatus.STOPPING])
            else:
                moved = transitions.fail(
                    job, now=now, reason=JobReason.ROBOT_RESTARTED, expected=[JobStatus.RUNNING, JobStatus.STOPPING],
                    log=log, message=message,
                )
            if moved is None:  # the robot's report, a stop or a timeout came first
                transaction.set_rollback(True)
                return None
    except IntegrityError:  # the robot's own report of this run was recorded first
        return None
    logger.warning("robot %s reported idle: job %s (%s) ended %s", job.shadow_bot_account, job.pk, job.app_name, job.status)
    return job
