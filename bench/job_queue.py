"""Benchmark of the per-robot job queue (not a test: it prints figures; issue 14).

Sets up `--robots` robots with `--tasks` tasks each (priorities high/normal/low in turn), starts
Daphne (its embedded dispatcher on) with the robot simulator (tasks/simulator.py, in this
process) as the relay, then starts every task at once through the API (`POST
/api/v1/tasks/{id}/start` with a JWT, from `--clients` threads) and waits until every job ended.
It prints:
- the time until every start was accepted (and the answers' status codes);
- the dispatch rate (STARTs sent per second while the queue drained);
- the delay from a robot becoming free (its job finished) to its next job's dispatch, p50/p99;
- the overlap check: from the START ControlRequest rows and their jobs' ends, no robot ever had
  two jobs at once; and the simulator's own count of STARTs it refused because it was busy.

    .venv/bin/python bench/job_queue.py                         # 200 robots x 5 tasks, fresh SQLite
    .venv/bin/python bench/job_queue.py --robots 20 --tasks 3   # quicker
    DATABASE_URL=postgres://rpa@127.0.0.1:55432/bench_queue .venv/bin/python bench/job_queue.py --postgres

The client threads, the simulator and Daphne share the machine's cores: the figures are an
upper bound of what the server alone needs.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import requests  # noqa: E402
import wrk_bench  # noqa: E402  (the bench folder's own module: cpu_seconds, load)

_spec = importlib.util.spec_from_file_location("sse_fanout", BENCH_DIR / "sse_fanout.py")
fanout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fanout)

PRIORITIES = ("high", "normal", "low")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def prepare(env: dict[str, str], robots: int, tasks: int) -> tuple[str, list[str], dict[tuple[str, int], str]]:
    """Migrate; create the robots, their tasks and an admin; return (JWT, task ids, address → robot)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections, transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Account
    from tasks.models import Task

    call_command("migrate", verbosity=0)
    with transaction.atomic():  # save(), not bulk_create: the models derive columns there
        accounts = [
            Account.objects.create(shadow_bot_account=f"bench_bot_{n:03d}", host_ip=f"10.60.{n // 250}.{n % 250 + 1}", port=8000)
            for n in range(robots)
        ]
        created = [
            Task.objects.create(account=account, task_name=f"Bench {n}", app_name=f"bench_app_{n}", priority=PRIORITIES[n % 3])
            for account in accounts
            for n in range(tasks)
        ]
    admin = get_user_model().objects.create_superuser("bench_admin", password=None)
    connections.close_all()
    addresses = {(a.host_ip, a.port): a.shadow_bot_account for a in accounts}
    return str(AccessToken.for_user(admin)), [str(t.pk) for t in created], addresses


def flush(env: dict[str, str]) -> None:
    """Empty the DATABASE_URL database (PostgreSQL runs reuse one)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def start_all(url: str, token: str, task_ids: list[str], clients: int) -> tuple[float, dict[int, int]]:
    """Every start at once; returns (seconds until all were answered, status code → count)."""
    local = threading.local()

    def start(task_id: str) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {token}"
        return local.session.post(f"{url}/api/v1/tasks/{task_id}/start", timeout=60).status_code

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        codes = list(pool.map(start, task_ids))
    counts: dict[int, int] = defaultdict(int)
    for code in codes:
        counts[code] += 1
    return time.perf_counter() - began, dict(counts)


def wait_until_done(expected: int, timeout: float) -> float:
    from django.db import close_old_connections

    from jobs.models import FINAL, Job

    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        close_old_connections()
        if Job.objects.filter(status__in=FINAL).count() >= expected:
            break
        time.sleep(0.5)
    return time.perf_counter() - began


def report() -> bool:
    """Print the dispatch figures and the overlap check from the database; True when no overlap."""
    from django.db import close_old_connections

    from jobs.models import Job
    from tasks.models import ControlAction, ControlOutcome, ControlRequest

    close_old_connections()
    jobs = list(Job.objects.values("id", "account_id", "status", "reason", "created_at", "dispatched_at", "finished_at"))
    by_status: dict[str, int] = defaultdict(int)
    for job in jobs:
        by_status[f"{job['status']}/{job['reason']}" if job["reason"] else job["status"]] += 1
    print(f"jobs: {len(jobs)} — " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))

    dispatched = sorted((j for j in jobs if j["dispatched_at"]), key=lambda j: j["dispatched_at"])
    if len(dispatched) > 1:
        span = (dispatched[-1]["dispatched_at"] - dispatched[0]["dispatched_at"]).total_seconds()
        print(f"dispatch rate: {len(dispatched)} STARTs in {span:.2f} s = {len(dispatched) / max(span, 1e-6):.0f}/s")

    delays = []
    per_robot: dict[object, list[dict]] = defaultdict(list)
    for job in dispatched:
        per_robot[job["account_id"]].append(job)
    for robot_jobs in per_robot.values():
        for previous, following in zip(robot_jobs, robot_jobs[1:], strict=False):
            # only a job that was waiting when the robot became free measures the hand-over
            if previous["finished_at"] and following["created_at"] <= previous["finished_at"]:
                delays.append((following["dispatched_at"] - previous["finished_at"]).total_seconds())
    if delays:
        print(
            f"robot free → next dispatch: p50 {percentile(delays, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(delays, 0.99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
            f"({len(delays)} hand-overs; mean {statistics.mean(delays) * 1000:.0f} ms)"
        )

    # Overlap check: each START the backend sent occupies its robot from the request until its
    # job ended; on one robot the next START must not come before the previous job's end.
    starts = ControlRequest.objects.filter(action=ControlAction.START, outcome=ControlOutcome.SENT, job__isnull=False)
    intervals: dict[str, list[tuple]] = defaultdict(list)
    for row in starts.values("shadow_bot_account", "created_at", "job__finished_at", "job_id"):
        intervals[row["shadow_bot_account"]].append((row["created_at"], row["job__finished_at"], row["job_id"]))
    overlaps = []
    for robot, spans in intervals.items():
        spans.sort(key=lambda span: span[0])
        for (_, end, job_id), (begin, _, next_id) in zip(spans, spans[1:], strict=False):
            if end is None or begin < end:
                overlaps.append((robot, job_id, next_id))
    print(
        f"overlap check: {sum(len(s) for s in intervals.values())} START rows on {len(intervals)} robots, "
        f"{len(overlaps)} overlap(s)" + (f" e.g. {overlaps[:3]}" if overlaps else "")
    )
    return not overlaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=5, help="tasks per robot (default 5)")
    parser.add_argument("--clients", type=int, default=32, help="client threads posting the starts")
    parser.add_argument("--run-seconds", default="1-2", help="simulated run time range (default 1-2)")
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait for the queue to drain")
    parser.add_argument("--postgres", action="store_true", help="use DATABASE_URL (emptied first) instead of SQLite")
    args = parser.parse_args()

    from tasks.simulator import RobotSimulator

    work_dir = Path(tempfile.mkdtemp(prefix="rpa-bench-queue-"))
    env = fanout.server_env(work_dir)
    if args.postgres:
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    sim_port = fanout.free_port()
    env.update(RPA_RELAY_URL=f"http://127.0.0.1:{sim_port}/yingdao", RPA_EMBEDDED_DISPATCHER="true",
               RPA_EMBEDDED_ALERTS="false", RPA_LOG_LEVEL="ERROR")
    if args.postgres:
        flush(env)
    token, task_ids, addresses = prepare(env, args.robots, args.tasks)
    process, url = fanout.start_daphne(env, work_dir)
    low, _, high = args.run_seconds.partition("-")
    simulator = RobotSimulator(
        callback=url, token=fanout.WEBHOOK_TOKEN, resolve=lambda ip, port: addresses.get((ip, port)),
        run_seconds=(float(low), float(high or low)), heartbeat_seconds=60, confirm_delay=0.2, failure_rate=0, seed=1,
    )
    relay = simulator.serve("127.0.0.1", sim_port)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    try:
        print(f"{args.robots} robots x {args.tasks} tasks = {len(task_ids)} starts, {args.clients} client threads; "
              f"load average {wrk_bench.load()}")
        cpu_began = wrk_bench.cpu_seconds(process.pid)
        seconds, codes = start_all(url, token, task_ids, args.clients)
        cpu_starts = wrk_bench.cpu_seconds(process.pid) - cpu_began
        print(f"all starts answered in {seconds:.2f} s ({len(task_ids) / seconds:.0f}/s): {codes}; server CPU "
              f"{cpu_starts:.1f} s meanwhile = {cpu_starts * 1000 / len(task_ids):.1f} ms per start (with the robots' webhooks)")
        drained = wait_until_done(len(task_ids), args.timeout)
        cpu_all = wrk_bench.cpu_seconds(process.pid) - cpu_began
        print(f"every job ended {drained:.1f} s later; server CPU {cpu_all:.1f} s in all = "
              f"{cpu_all * 1000 / len(task_ids):.1f} ms per job (start, dispatch, confirm, report); "
              f"load average {wrk_bench.load()}")
        clean = report()
        print(f"simulator: {simulator.refused} START(s) refused because the robot was busy")
        print("PASS" if clean and simulator.refused == 0 else "FAIL: a robot had two jobs at once")
    finally:
        relay.shutdown()
        fanout.stop(process)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
