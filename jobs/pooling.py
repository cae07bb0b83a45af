"""Pool jobs in the claim (API.md §12): which queued jobs of pool tasks the free robots may take,
and which robot takes which job.

A pool task's job is queued `any_robot` with the task's own robot as its provisional `account`;
the claim (jobs.queue.claim_locked) gives it to a free member of its pool and the dispatch's
compare-and-set records that robot (`account`, `shadow_bot_account`, `host_ip`, `backend`).
Rules, in one place (`assign`):
- a robot's free slots (`max_concurrent_jobs` minus every busy job it runs) are filled one job
  per round, robots in the order of their idleness (the one whose last dispatch is oldest, or
  never, first), so jobs spread over the free robots;
- each slot takes the best (priority, then age) of the robot's own queue and its pools' queues;
- a task never has more than `max_parallel_jobs` busy jobs, and never two on one robot.
Counts are read after the tasks are locked (jobs.queue), so two dispatchers never exceed them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber

from jobs.models import BUSY, Job, JobStatus
from pools.models import Pool

QUEUE_ORDER = ("priority_rank", "created_at")
# Pool candidates read per claim beyond the free slots: room for the jobs a slot cannot take
# (its task already on that robot); the rest wait for the next pass.
SPARE_CANDIDATES = 20

Membership = Pool.accounts.through


def member_ids(pool_id):
    """The pks of a pool's robots (a subquery, or a list when iterated)."""
    return Membership.objects.filter(pool_id=pool_id).values_list("account_id", flat=True)


def pools_of(account_ids) -> dict:
    """account pk → the pks of its pools (one query)."""
    found: dict = defaultdict(set)
    for account_id, pool_id in Membership.objects.filter(account_id__in=list(account_ids)).values_list("account_id", "pool_id"):
        found[account_id].add(pool_id)
    return found


def _task_busy():
    return Coalesce(
        Subquery(
            Job.objects.filter(task_id=OuterRef("task_id"), status__in=BUSY)
            .order_by().values("task_id").annotate(n=Count("pk")).values("n")
        ),
        0,
    )


def candidates(free: dict, memberships: dict, eligible: Q) -> list[Job]:
    """Queued `any_robot` jobs of the free robots' pools in queue order, at most what their tasks
    may still start (max_parallel_jobs minus their busy jobs), at most the free slots plus
    SPARE_CANDIDATES (one query)."""
    pool_ids = set().union(*(memberships.get(pk, ()) for pk in free))
    if not pool_ids:
        return []
    in_task_order = Window(RowNumber(), partition_by=[F("task_id")], order_by=[F(name) for name in QUEUE_ORDER])
    rows = (
        Job.objects.filter(eligible, any_robot=True, pool_id__in=pool_ids)
        .annotate(place=in_task_order, task_busy=_task_busy(), task_cap=F("task__max_parallel_jobs"))
        .filter(place__lte=F("task_cap") - F("task_busy"))
        .order_by(*QUEUE_ORDER)
    )
    return list(rows[: sum(free.values()) + SPARE_CANDIDATES])


def idle_order(account_ids) -> list:
    """The robots, the one idle longest first: whose last dispatch is oldest (never: first)."""
    last = dict(
        Job.objects.filter(account_id__in=list(account_ids), dispatched_at__isnull=False)
        .order_by().values("account_id").annotate(last=Max("dispatched_at")).values_list("account_id", "last")
    )
    return sorted(account_ids, key=lambda pk: (last.get(pk) is not None, last.get(pk) or datetime.min, str(pk)))


def task_load(task_ids) -> dict:
    """task pk → the robots running its busy jobs (read under the tasks' locks)."""
    load: dict = defaultdict(list)
    for task_id, account_id in Job.objects.filter(task_id__in=list(task_ids), status__in=BUSY).values_list("task_id", "account_id"):
        load[task_id].append(account_id)
    return load


def assign(*, free: dict, own: list[Job], pooled: list[Job], memberships: dict, tasks: dict, order: list) -> list[tuple[Job, object]]:
    """Which robot takes which job: (job, account pk) pairs, by the rules of this module.
    `free`: account pk → free slots; `own`: the robots' own next jobs (queue order); `pooled`:
    `candidates`; `tasks`: the locked tasks (pk → Task); `order`: `idle_order`."""
    slots = dict(free)
    own_queue: dict = defaultdict(list)
    for job in own:
        own_queue[job.account_id].append(job)
    load = task_load(tasks)
    waiting = list(pooled)
    plan: list[tuple[Job, object]] = []

    def fits(job: Job, robot) -> bool:
        task = tasks.get(job.task_id)
        if task is None:
            return False
        running = load[job.task_id]
        if task.pool_id is None:
            return True  # one active job per task: nothing else of it runs
        return len(running) < task.max_parallel_jobs and robot not in running

    progress = True
    while progress:
        progress = False
        for robot in order:
            if slots.get(robot, 0) <= 0:
                continue
            mine = next((job for job in own_queue[robot] if fits(job, robot)), None)
            pool = next(
                (job for job in waiting if job.pool_id in memberships.get(robot, ()) and fits(job, robot)), None
            )
            best = min((job for job in (mine, pool) if job is not None), key=lambda job: (job.priority_rank, job.created_at), default=None)
            if best is None:
                continue
            (own_queue[robot] if best is mine else waiting).remove(best)
            load[best.task_id].append(robot)
            slots[robot] -= 1
            plan.append((best, robot))
            progress = True
    return plan


# -- queue positions ----------------------------------------------------------------------------------
def positions(jobs: list[Job]) -> dict:
    """queue_position of queued `any_robot` jobs: their place in their pool's queue (one query)."""
    queued = [job for job in jobs if job.status == JobStatus.QUEUED and job.any_robot and job.pool_id]
    if not queued:
        return {}
    rows = (
        Job.objects.filter(pool_id__in={job.pool_id for job in queued}, any_robot=True, status=JobStatus.QUEUED)
        .order_by("pool_id", *QUEUE_ORDER).values_list("pool_id", "pk")
    )
    index: dict = {}
    ahead: dict = {}
    for pool_id, pk in rows:
        ahead[pool_id] = index[pk] = ahead.get(pool_id, 0) + 1
    return {job.pk: index.get(job.pk) for job in queued}


def ahead_in_pool(job: Job) -> Q:
    return Q(pool_id=job.pool_id, any_robot=True, status=JobStatus.QUEUED) & (
        Q(priority_rank__lt=job.priority_rank) | Q(priority_rank=job.priority_rank, created_at__lt=job.created_at)
    )
