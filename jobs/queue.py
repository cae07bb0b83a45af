"""Each robot's queue: at most `max_concurrent_jobs` of its jobs dispatched, running or stopping;
the others wait `queued`, by priority (high, normal, low) then age.

A claim locks the account row (`SELECT … FOR UPDATE`, skipping rows another dispatcher holds on
PostgreSQL; on SQLite every write transaction is `BEGIN IMMEDIATE`, so claims are serialized),
counts the busy jobs and moves the next queued ones to `dispatched` with the compare-and-set of
`jobs.transitions`, all in one short transaction. No backend is called here.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery

from accounts.models import Account
from jobs import outbox, transitions
from jobs.models import BUSY, Job, JobStatus


def eligible(now: datetime) -> Q:
    """Queued jobs that may be dispatched now (a retry waits for its not_before)."""
    return Q(status=JobStatus.QUEUED) & (Q(not_before__isnull=True) | Q(not_before__lte=now))


def claim(account_id, *, now: datetime, skip_locked: bool = False) -> list[Job]:
    """Move the account's next queued jobs to `dispatched`, as many as it has free slots."""
    with transaction.atomic():
        locking = Account.objects.select_for_update(
            no_key=True, skip_locked=skip_locked and connection.vendor == "postgresql"
        )
        account = locking.filter(pk=account_id).first()
        if account is None or outbox.unsent_stop(account_id, now=now):
            return []  # a pending stop (target=ALL) would end the next run too
        free = account.max_concurrent_jobs - Job.objects.filter(account_id=account_id, status__in=BUSY).count()
        if free <= 0:
            return []
        claimed = []
        candidates = (
            Job.objects.filter(eligible(now), account_id=account_id)
            .select_related("account", "task")
            .order_by("priority_rank", "created_at")[:free]
        )
        for job in list(candidates):
            if transitions.dispatch(job, now=now) is not None:
                claimed.append(job)
        return claimed


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
        .order_by("account_id", "priority_rank", "created_at")
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
