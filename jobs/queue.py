"""Each robot's queue: at most `max_concurrent_jobs` of its jobs dispatched, running or stopping;
the others wait `queued`, by priority (high, normal, low) then age.

A claim locks the account rows (`SELECT … FOR UPDATE`, skipping rows another dispatcher holds on
PostgreSQL; on SQLite every write transaction is `BEGIN IMMEDIATE`, so claims are serialized),
counts the busy jobs and moves the next queued ones to `dispatched` with the compare-and-set of
`jobs.transitions`, all in one short transaction: for one robot (a start on it), or for every
robot a dispatcher pass found free (`claim_many`: one transaction, a few statements, plus the
moves), each claimed job's START written to the robot's command outbox (jobs.outbox) in that same
transaction. No backend is called here.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber

from accounts.models import Account
from jobs import audit, outbox, transitions
from jobs.models import BUSY, Job, JobStatus
from tasks.models import ControlAction, Task

# A robot's queue order: priority (high first: the lowest rank), then age.
QUEUE_ORDER = ("priority_rank", "created_at")


def eligible(now: datetime) -> Q:
    """Queued jobs that may be dispatched now (a retry waits for its not_before; a job whose task
    was deleted is never dispatched: the timeouts sweep cancels it)."""
    return (
        Q(status=JobStatus.QUEUED, task__isnull=False)
        & (Q(not_before__isnull=True) | Q(not_before__lte=now))
    )


def claim(account_id, *, now: datetime, skip_locked: bool = False) -> list[Job]:
    """Move the account's next queued jobs to `dispatched`, as many as it has free slots."""
    return claim_many([account_id], now=now, skip_locked=skip_locked)


def claim_many(account_ids, *, now: datetime, skip_locked: bool = False) -> list[Job]:
    """`claim` for several robots in one short transaction: their rows locked in one statement
    (on PostgreSQL skipping those another dispatcher holds, with `skip_locked`), then
    `claim_locked`."""
    with transaction.atomic():
        locking = Account.objects.select_for_update(
            no_key=True, skip_locked=skip_locked and connection.vendor == "postgresql"
        )
        accounts = {account.pk: account for account in locking.filter(pk__in=list(account_ids)).order_by("pk")}
        return claim_locked(accounts, now=now)


def claim_locked(accounts: dict, *, now: datetime) -> list[Job]:
    """Inside the caller's transaction, which holds the lock of every account in `accounts`
    (pk → Account): each robot's next eligible jobs, as many as its free slots, each moved
    `queued → dispatched` by the compare-and-set of `jobs.transitions`. A robot with an unsent
    stop gets none. Their tasks are locked (after their accounts, the one order) in one
    statement and handed to the transitions, so nothing is read twice."""
    transitions._require_transaction()
    busy = dict(
        Job.objects.filter(account_id__in=list(accounts), status__in=BUSY)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values_list("account_id", "n")
    )
    free = {pk: account.max_concurrent_jobs - busy.get(pk, 0) for pk, account in accounts.items()}
    free = {pk: slots for pk, slots in free.items() if slots > 0}
    if free:
        for pk in outbox.accounts_with_unsent_stop(list(free), now=now):
            free.pop(pk, None)  # a pending stop (target=ALL) would end the next run too
    if not free:
        return []
    candidates = _next_jobs(free, now)
    task_ids = sorted({job.task_id for job in candidates if job.task_id is not None})
    tasks = {task.pk: task for task in Task.objects.select_for_update().filter(pk__in=task_ids).order_by("pk")}
    claimed = []
    for job in candidates:
        job.account = accounts[job.account_id]
        task = tasks.get(job.task_id)
        if task is not None:
            task.account = job.account
            job.task = task
        if transitions.dispatch(job, now=now, task_locked=task is not None) is not None:
            # Its START, in the claim's transaction: the outbox's sender sends it (jobs.outbox).
            job.start_command = outbox.enqueue(
                job, action=ControlAction.START, source=audit.SOURCE_OF_JOB[job.source],
                requested_by_id=job.requested_by_id,
            )
            claimed.append(job)
    return claimed


def _next_jobs(free: dict, now: datetime) -> list[Job]:
    """Each robot's next eligible jobs in QUEUE_ORDER, as many as its free slots (`free`: pk →
    slots). One robot (a start's own claim): a plain ordered query; several (a dispatcher pass):
    one query ranking each robot's jobs (ROW_NUMBER, whose SQL costs more to build)."""
    waiting = Job.objects.filter(eligible(now))
    if len(free) == 1:
        [(account_id, slots)] = free.items()
        return list(waiting.filter(account_id=account_id).order_by(*QUEUE_ORDER)[:slots])
    in_order = Window(RowNumber(), partition_by=[F("account_id")], order_by=[F(name) for name in QUEUE_ORDER])
    ranked = waiting.filter(account_id__in=list(free)).annotate(place=in_order).filter(place__lte=max(free.values()))
    return [job for job in ranked.order_by("account_id", "place") if job.place <= free[job.account_id]]


def accounts_with_work(now: datetime) -> list:
    """Accounts that have an eligible queued job and a free slot (one query)."""
    busy = (
        Job.objects.filter(account_id=OuterRef("pk"), status__in=BUSY)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    waiting = Job.objects.filter(eligible(now)).values("account_id")
    return list(
        Account.objects.filter(pk__in=waiting)
        .annotate(busy=Subquery(busy))
        .filter(Q(busy__isnull=True) | Q(busy__lt=F("max_concurrent_jobs")))
        .values_list("pk", flat=True)
    )


def positions(jobs: list[Job]) -> dict:
    """queue_position (1 = next) of each queued job in `jobs`: one query for all their robots'
    queues (a page of jobs may name up to 20 robots)."""
    queued = [job for job in jobs if job.status == JobStatus.QUEUED and job.account_id]
    if not queued:
        return {}
    queues = (
        Job.objects.filter(account_id__in={job.account_id for job in queued}, status=JobStatus.QUEUED)
        .order_by("account_id", *QUEUE_ORDER)
        .values_list("account_id", "pk")
    )
    index: dict = {}
    ahead: dict = {}
    for account_id, pk in queues:
        ahead[account_id] = index[pk] = ahead.get(account_id, 0) + 1
    return {job.pk: index.get(job.pk) for job in queued}


def position(job: Job) -> int | None:
    """One job's queue_position: how many queued jobs of its robot go before it, plus one."""
    if job.status != JobStatus.QUEUED or job.account_id is None:
        return None
    ahead = Job.objects.filter(account_id=job.account_id, status=JobStatus.QUEUED).filter(
        Q(priority_rank__lt=job.priority_rank) | Q(priority_rank=job.priority_rank, created_at__lt=job.created_at)
    )
    return ahead.count() + 1
