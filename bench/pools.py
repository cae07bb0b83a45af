"""Benchmark of the pool claim (issue 26; not a test: it prints figures).

1,000 queued jobs (`--jobs`) over 50 simulated robots (`--robots`, one slot each), dispatched by
dispatcher passes as `jobs.dispatcher.dispatch_pending` makes them — `queue.accounts_with_work`,
then `queue.claim_many` for every CLAIM_BATCH robots (SKIP LOCKED on PostgreSQL), each claimed
job's START written to the outbox — without sending (no backend: the claim alone is measured);
the robots end every claimed job at once (one transition each), so the next pass finds them free.
Two layouts of the same work:
- per-robot queues: each robot has jobs/robots queued jobs of its own tasks;
- a pool: one pool of every robot, `--pool-tasks` pool tasks (max_parallel_jobs = robots), the
  same number of queued jobs waiting for any robot.
Printed per layout: passes, the time until every job was dispatched (claims plus the simulated
ends), the claim's cost per job (ms inside `claim_many`, statements) and how evenly the robots
were used.

    .venv/bin/python bench/pools.py                                   # a fresh SQLite file
    DATABASE_URL=postgres://rpa@127.0.0.1:55432/rpa_pools .venv/bin/python bench/pools.py   # a fresh database beside it
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def project_first() -> None:
    """This file is named like the `pools` app: the project comes first on the path, bench/ last
    (bench/work_queue.py puts bench/ first again when imported)."""
    sys.path[:] = [str(BENCH_DIR.parent)] + [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR] + [str(BENCH_DIR)]


project_first()

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import timedelta  # noqa: E402

import wrk_bench  # noqa: E402
from work_queue import drop_database, fresh_postgres_database  # noqa: E402

project_first()


def setup(work_dir: Path) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = f"sqlite:///{work_dir / 'pools.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
    os.environ["RPA_VAR_DIR"] = str(work_dir / "var")
    os.environ["RPA_EMBEDDED_DISPATCHER"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def robots(n: int) -> list:
    from accounts.models import Account

    return [Account.objects.create(shadow_bot_account=f"bench_pool_bot_{i:02d}", host_ip=f"10.26.{i // 250}.{i % 250 + 1}",
                                   port=8000) for i in range(n)]


def queue_jobs(tasks_and_counts, *, any_robot: bool) -> None:
    """Queued jobs, oldest first, in one bulk insert (the same rows a start makes)."""
    from django.utils import timezone

    from jobs.models import Job, snapshot_of

    start = timezone.now() - timedelta(hours=1)
    rows, n = [], 0
    for task, count in tasks_and_counts:
        for _ in range(count):
            n += 1
            rows.append(Job(**snapshot_of(task, task.priority), status="queued", source="api", any_robot=any_robot,
                            run_timeout_seconds=3600, wait_timeout_seconds=86400, created_at=start + timedelta(milliseconds=n)))
    Job.objects.bulk_create(rows, batch_size=500)


def per_robot_layout(accounts: list, jobs: int) -> None:
    from tasks.models import Task

    each = jobs // len(accounts)
    tasks = [Task.objects.create(account=a, task_name=f"own {i}", app_name=f"own_app_{i}") for a in accounts for i in range(each)]
    queue_jobs([(task, 1) for task in tasks], any_robot=False)


def pool_layout(accounts: list, jobs: int, pool_tasks: int) -> None:
    from pools.models import Pool
    from tasks.models import Task

    pool = Pool.objects.create(name="bench pool")
    pool.accounts.set(accounts)
    tasks = [Task.objects.create(account=accounts[i % len(accounts)], task_name=f"pool {i}", app_name=f"pool_app_{i}",
                                 pool=pool, max_parallel_jobs=len(accounts)) for i in range(pool_tasks)]
    queue_jobs([(task, jobs // pool_tasks) for task in tasks], any_robot=True)


def end_jobs(jobs: list) -> None:
    """The robots finish what they were given (one transition each)."""
    from django.db import transaction
    from django.utils import timezone

    from jobs import transitions
    from jobs.models import JobStatus

    for job in jobs:
        with transaction.atomic():
            transitions.move(job, JobStatus.COMPLETED, now=timezone.now(), expected=[JobStatus.DISPATCHED])


def dispatch_all(total: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from jobs import queue
    from jobs.dispatcher import CLAIM_BATCH

    claim_seconds, statements, claimed_total, passes = 0.0, 0, 0, 0
    per_robot: Counter = Counter()
    began = time.perf_counter()
    while claimed_total < total:
        passes += 1
        now = timezone.now()
        waiting = queue.accounts_with_work(now)
        if not waiting:
            break
        for first in range(0, len(waiting), CLAIM_BATCH):
            counted = [0]

            def count(execute, sql, params, many, context, counted=counted):
                counted[0] += 1
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                at = time.perf_counter()
                claimed = queue.claim_many(waiting[first:first + CLAIM_BATCH], now=now, skip_locked=True)
                claim_seconds += time.perf_counter() - at
            statements += counted[0]
            claimed_total += len(claimed)
            per_robot.update(job.account_id for job in claimed)
            end_jobs(claimed)
    elapsed = time.perf_counter() - began
    spread = list(per_robot.values())
    return {
        "passes": passes, "claimed": claimed_total, "seconds": elapsed,
        "claim_ms_per_job": 1000 * claim_seconds / max(claimed_total, 1),
        "statements_per_job": statements / max(claimed_total, 1),
        "robots_used": len(spread), "jobs_per_robot": (min(spread), max(spread), statistics.mean(spread)) if spread else (0, 0, 0),
    }


def clean() -> None:
    from jobs.models import Job
    from pools.models import Pool
    from tasks.models import ControlRequest, Task

    ControlRequest.objects.all().delete()
    Job.objects.all().delete()
    Task.objects.all().delete()
    Pool.objects.all().delete()


def show(name: str, result: dict) -> None:
    low, high, mean = result["jobs_per_robot"]
    print(f"{name:<18} {result['claimed']:>5} jobs in {result['passes']:>3} passes: {result['seconds']:6.2f} s to dispatch all "
          f"({result['claimed'] / result['seconds']:6.0f} jobs/s with the ends); claim {result['claim_ms_per_job']:.2f} ms "
          f"and {result['statements_per_job']:.1f} statements per job; {result['robots_used']} robots used, "
          f"{low}-{high} jobs each (mean {mean:.1f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--pool-tasks", type=int, default=20)
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL", "")
    fresh = fresh_postgres_database()
    work_dir = Path(tempfile.mkdtemp(prefix="rpa-pools-bench-"))
    try:
        setup(work_dir)
        from django.db import connection

        print(f"bench/pools.py: {args.jobs} queued jobs over {args.robots} robots (1 slot each), {connection.vendor}; "
              f"load average {wrk_bench.load()}", flush=True)
        accounts = robots(args.robots)
        per_robot_layout(accounts, args.jobs)
        show("per-robot queues", dispatch_all(args.jobs))
        clean()
        pool_layout(accounts, args.jobs, args.pool_tasks)
        show(f"one pool, {args.pool_tasks} tasks", dispatch_all(args.jobs))
        print(f"load average after: {wrk_bench.load()}")
    finally:
        if fresh:
            drop_database(fresh, admin_url)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
