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
from django.utils import timezone

from accounts.models import Account
from jobs import audit, outbox, pooling, rebinding, transitions
from jobs.locks import transaction_locks_everything
from jobs.models import BUSY, Job, JobStatus
from tasks.models import ControlAction, Task

# A robot's (and a pool's) queue order: priority (high first: the lowest rank), then age.
QUEUE_ORDER = pooling.QUEUE_ORDER


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
        accounts = lock_accounts(account_ids, skip_locked=skip_locked)
        # The dispatch is stamped when it happens: after the locks, which may have waited for a
        # job's end to commit (a pass's own `now` is from before its first batch).
        return claim_locked(accounts, now=max(now, timezone.now()), skip_locked=skip_locked)


def lock_accounts(account_ids, *, skip_locked: bool = False) -> dict:
    """The accounts, locked in one statement in primary-key order (pk → Account)."""
    locking = Account.objects.select_for_update(
        no_key=True, skip_locked=skip_locked and connection.vendor == "postgresql"
    )
    return {account.pk: account for account in locking.filter(pk__in=list(account_ids)).order_by("pk")}


def claim_locked(accounts: dict, *, now: datetime, skip_locked: bool = False) -> list[Job]:
    """Inside the caller's transaction, which holds the lock of every account in `accounts`
    (pk → Account): each robot's next eligible jobs from its own queue and its pools' queues
    (jobs.pooling), as many as its free slots, each moved `queued → dispatched` by the
    compare-and-set of `jobs.transitions` (a pool job's robot recorded by it). A robot with an
    unsent stop gets none. The tasks are locked after the accounts (the one order) and their
    busy jobs counted under those locks; a pool task another dispatcher holds is skipped
    (`skip_locked`, PostgreSQL), its jobs left for the next pass."""
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
    own = _next_jobs(free, now)
    memberships = pooling.pools_of(free)
    pooled = pooling.candidates(free, memberships, eligible(now)) if memberships else []
    tasks = _lock_tasks(own, pooled, skip_locked=skip_locked)
    if pooled or any(task.pool_id for task in tasks.values()):
        order = pooling.idle_order(list(free)) if len(free) > 1 else list(free)
        plan = pooling.assign(free=free, own=own, pooled=pooled, memberships=memberships, tasks=tasks, order=order)
    else:
        plan = [(job, job.account_id) for job in own]
    if plan and not transaction_locks_everything():
        # Read before the tasks' locks: an edit that committed in between moved these (jobs.rebinding).
        moved = rebinding.changed_since_read([job for job, _ in plan])
        plan = [(job, robot) for job, robot in plan if job.pk not in moved]
    claimed = []
    for job, robot in plan:
        account = accounts[robot]
        task = tasks.get(job.task_id)
        if task is not None:
            job.task = task
        if transitions.dispatch(job, now=now, task_locked=task is not None, robot=account) is not None:
            # Its START, in the claim's transaction: the outbox's sender sends it (jobs.outbox).
            job.start_command = outbox.enqueue(
                job, action=ControlAction.START, source=audit.SOURCE_OF_JOB[job.source],
                requested_by_id=job.requested_by_id,
            )
            claimed.append(job)
    return claimed


def _lock_tasks(own: list[Job], pooled: list[Job], *, skip_locked: bool) -> dict:
    """The tasks of the candidate jobs, locked (after their accounts): those of the robots' own
    queues in one statement; those of pool jobs only, skipping the ones another dispatcher holds
    on PostgreSQL (it is claiming them: its counts would be stale here)."""
    own_ids = sorted({job.task_id for job in own if job.task_id is not None})
    tasks = {task.pk: task for task in Task.objects.select_for_update().filter(pk__in=own_ids).order_by("pk")}
    pool_ids = sorted({job.task_id for job in pooled if job.task_id is not None} - set(tasks))
    if pool_ids:
        skipping = skip_locked and connection.vendor == "postgresql"
        locking = Task.objects.select_for_update(skip_locked=skipping)
        tasks.update({task.pk: task for task in locking.filter(pk__in=pool_ids).order_by("pk")})
    return tasks


def _next_jobs(free: dict, now: datetime) -> list[Job]:
    """Each robot's next eligible jobs of its own queue in QUEUE_ORDER, as many as its free slots
    (`free`: pk → slots). One robot (a start's own claim): a plain ordered query; several (a
    dispatcher pass): one query ranking each robot's jobs (ROW_NUMBER, whose SQL costs more to
    build). A pool job waiting for any robot is in its pool's queue, not here."""
    waiting = Job.objects.filter(eligible(now), any_robot=False)
    if len(free) == 1:
        [(account_id, slots)] = free.items()
        return list(waiting.filter(account_id=account_id).order_by(*QUEUE_ORDER)[:slots])
    in_order = Window(RowNumber(), partition_by=[F("account_id")], order_by=[F(name) for name in QUEUE_ORDER])
    ranked = waiting.filter(account_id__in=list(free)).annotate(place=in_order).filter(place__lte=max(free.values()))
    return [job for job in ranked.order_by("account_id", "place") if job.place <= free[job.account_id]]


def accounts_with_work(now: datetime) -> list:
    """Accounts that have an eligible queued job, of their own or of one of their pools, and a
    free slot (one query)."""
    busy = (
        Job.objects.filter(account_id=OuterRef("pk"), status__in=BUSY)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    waiting = Job.objects.filter(eligible(now), any_robot=False).values("account_id")
    pools = Job.objects.filter(eligible(now), any_robot=True).values("pool_id")
    members = pooling.Membership.objects.filter(pool_id__in=pools).values("account_id")
    return list(
        Account.objects.filter(Q(pk__in=waiting) | Q(pk__in=members))
        .annotate(busy=Subquery(busy))
        .filter(Q(busy__isnull=True) | Q(busy__lt=F("max_concurrent_jobs")))
        .values_list("pk", flat=True)
    )


def positions(jobs: list[Job]) -> dict:
    """queue_position (1 = next) of each queued job in `jobs`: one query for all their robots'
    queues (a page of jobs may name up to 20 robots)."""
    found = pooling.positions(jobs)
    queued = [job for job in jobs if job.status == JobStatus.QUEUED and job.account_id and job.pk not in found]
    if not queued:
        return found
    queues = (
        Job.objects.filter(account_id__in={job.account_id for job in queued}, status=JobStatus.QUEUED, any_robot=False)
        .order_by("account_id", *QUEUE_ORDER)
        .values_list("account_id", "pk")
    )
    index: dict = {}
    ahead: dict = {}
    for account_id, pk in queues:
        ahead[account_id] = index[pk] = ahead.get(account_id, 0) + 1
    return {**found, **{job.pk: index.get(job.pk) for job in queued}}


def position(job: Job) -> int | None:
    """One job's queue_position: how many queued jobs of its robot (a pool job waiting for any
    robot: of its pool) go before it, plus one."""
    if job.status != JobStatus.QUEUED or job.account_id is None:
        return None
    if job.any_robot and job.pool_id:
        return Job.objects.filter(pooling.ahead_in_pool(job)).count() + 1
    ahead = Job.objects.filter(account_id=job.account_id, status=JobStatus.QUEUED, any_robot=False).filter(
        Q(priority_rank__lt=job.priority_rank) | Q(priority_rank=job.priority_rank, created_at__lt=job.created_at)
    )
    return ahead.count() + 1
