"""Where a job start's time goes, in-process (not a test: it prints figures; issue 14).

The database of bench/job_queue.py (`--robots` robots with `--tasks` tasks each, fresh SQLite or
the emptied `DATABASE_URL` database with `--postgres`), a fake relay answering at once
(rpa_workbench/testing/relay.py), then, through Django's test client (no server, one thread),
phase by phase, as the benchmark's robots drive it:
- `start inline`: the first task of every robot (its robot free: claimed and sent in the request);
- `start queued`: every other task (its robot busy: the job waits);
- `confirm`: the robots' START confirmations (dispatched → running);
- `complete`: their execution-complete webhooks (the job ends, its robot is free);
- `dispatch pass`: one dispatcher pass (`jobs.dispatcher.run_once`), claiming every free robot's
  next job and sending its START (the sends in this thread: RPA_DISPATCHER_THREADS=0).
For each: ms per item, SQL statements per item, and with `--profile N` the top N functions.

    .venv/bin/python bench/profile_start.py                    # 100 robots x 2 tasks
    .venv/bin/python bench/profile_start.py --profile 30 --only "start queued"
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import job_queue  # noqa: E402  (the bench folder's own module: the same set-up)

from rpa_workbench.testing.relay import start_fake_relay  # noqa: E402


def measure(name: str, items: list, call: Callable, top: int, show_sql: bool = False) -> None:
    """Run `call` on every item, timed, its SQL statements counted (and profiled when `top`;
    `show_sql`: the first item's statements printed)."""
    from django.db import connection

    statements = 0
    first: list[str] = []

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        if show_sql and len(first) < 200 and item is items[0]:
            first.append(sql)
        return execute(sql, params, many, context)

    profiler = cProfile.Profile() if top else None
    with connection.execute_wrapper(count):
        began = time.perf_counter()
        if profiler:
            profiler.enable()
        for item in items:  # noqa: B007  (`item` is read by count())
            call(item)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - began
    count = max(len(items), 1)
    for number, sql in enumerate(first, start=1):
        print(f"  {number:3d} {sql[:300]}")
    print(f"{name:<14} {elapsed * 1000 / count:7.2f} ms, {statements / count:5.1f} statements per item ({len(items)} items)")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="print the TOP functions per phase")
    parser.add_argument("--only", action="append", help="profile only this phase (repeatable); all run")
    parser.add_argument("--sql", action="store_true", help="print the SQL of each phase's first item")
    parser.add_argument("--postgres", action="store_true", help="use DATABASE_URL (emptied first) instead of SQLite")
    args = parser.parse_args()

    relay, server = start_fake_relay()
    work_dir = Path(tempfile.mkdtemp(prefix="rpa-profile-start-"))
    env = job_queue.fanout.server_env(work_dir)
    if args.postgres:
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env.update(RPA_RELAY_URL=relay.url, RPA_DISPATCHER_THREADS="0", RPA_LOG_LEVEL="ERROR")
    try:
        if args.postgres:
            job_queue.flush(env)
        token, task_ids, _ = job_queue.prepare(env, args.robots, args.tasks)
        from django.test import Client

        from accounts.models import Account
        from jobs import dispatcher

        client = Client(HTTP_HOST="127.0.0.1")
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        hook = {"HTTP_X_WEBHOOK_TOKEN": job_queue.fanout.WEBHOOK_TOKEN, "content_type": "application/json"}
        robots = list(Account.objects.order_by("shadow_bot_account").values("shadow_bot_account", "host_ip"))
        first = task_ids[:: args.tasks]
        rest = [task_id for n, task_id in enumerate(task_ids) if n % args.tasks]

        def start(task_id: str) -> None:
            response = client.post(f"/api/v1/tasks/{task_id}/start", **auth)
            assert response.status_code == 200, response.content[:300]

        def webhook(path: str, body: dict) -> None:
            response = client.post(f"/api/v1/webhook/{path}", body, **hook)
            assert response.status_code < 300, (path, response.status_code, response.content[:300])

        began = datetime.now(UTC)

        def confirm(index: int) -> None:
            robot = robots[index]
            webhook("confirm", {**robot, "app_name": "bench_app_0", "action": "START"})

        def complete(index: int) -> None:
            robot = robots[index]
            webhook("execution-complete", {
                **robot, "app_name": "bench_app_0", "status": "completed", "execution_id": f"bench-{index}",
                "start_time": began.isoformat(), "end_time": (began + timedelta(seconds=1)).isoformat(),
                "duration_seconds": 1,
            })

        def top(name: str) -> dict:
            chosen = not args.only or name in args.only
            return {"top": args.profile if chosen else 0, "show_sql": args.sql and chosen}

        start(task_ids[0])  # warm-up (imports, the first connection), on a robot that is started anyway
        measure("start inline", first[1:], start, **top("start inline"))
        measure("start queued", rest, start, **top("start queued"))
        measure("confirm", list(range(len(robots))), confirm, **top("confirm"))
        measure("complete", list(range(len(robots))), complete, **top("complete"))
        summary = []
        measure("dispatch pass", [None], lambda _: summary.append(dispatcher.run_once()), **top("dispatch pass"))
        print(f"  (the pass sent {len(summary[0].sent)} STARTs)")
        print(f"relay received {len(relay.requests)} requests")
    finally:
        server.shutdown()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
