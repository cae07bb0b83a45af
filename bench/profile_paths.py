"""Where a hot path's time goes, in-process (not a test: it prints figures).

The same fresh database as bench/wrk_bench.py (a robot with its task, 20 accounts, an admin),
then N requests per path through Django's test client — no server, no network, one thread —
timed, and optionally profiled with cProfile (the top functions by cumulative time). What is
left here is Django's, DRF's and our own work per request; wrk_bench.py's "server CPU per
request" minus this is what the server (Daphne, threads, the event loop) adds.

    .venv/bin/python bench/profile_paths.py                      # 300 requests per path
    .venv/bin/python bench/profile_paths.py --only webhook --profile 25

Paths: `webhook` is wrk_bench's webhook (the robot's own run: no job waited for it, so a `robot`
job is recorded); `webhook-job` ends a running job we dispatched (`execution_id` = the job's
id; one robot per request, each with its task and running job made before the clock starts);
`accounts` is the first page of 20; `health` is `GET /health`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wrk_bench  # noqa: E402  (the bench folder's own module: the shared set-up)


def webhook_body(index: int, account: str = wrk_bench.ACCOUNT, execution_id: str | None = None) -> bytes:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index)
    return json.dumps({
        "shadow_bot_account": account, "app_name": wrk_bench.APP, "status": "completed",
        "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=3)).isoformat(),
        "duration_seconds": 3, "execution_id": execution_id or f"prof-{index}",
    }).encode()


def running_jobs(count: int) -> list[tuple[str, str]]:
    """`count` robots, online (heard from just now), each with its task and a running job:
    (account name, job id)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Account, PresenceState
    from jobs import transitions
    from jobs.models import JobSource, JobStatus
    from tasks.models import Task

    made = []
    for index in range(count):
        account = Account.objects.create(
            shadow_bot_account=f"job_bot_{index}", host_ip="10.0.2.1", port=8000,
            presence_state=PresenceState.ONLINE, last_seen_at=timezone.now(),
        )
        task = Task.objects.create(task_name=f"Job task {index}", account=account, app_name=wrk_bench.APP)
        now = timezone.now()
        with transaction.atomic():
            job = transitions.create(task=task, source=JobSource.API, now=now, status=JobStatus.RUNNING, started_at=now)
        made.append((account.shadow_bot_account, str(job.pk)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", choices=["webhook", "webhook-job", "accounts", "health"], action="append")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="print the TOP functions")
    parser.add_argument("--sql", action="store_true", help="print the statements of one request per path")
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="rpa_profile_"))
    token = secrets.token_urlsafe(24)
    try:
        jwt = wrk_bench.prepare(work_dir, token)
        from django.test import Client

        client = Client(HTTP_HOST="127.0.0.1")
        jobs = running_jobs(args.requests + 21) if "webhook-job" in (args.only or ["webhook-job"]) else []
        paths = {
            "webhook": lambda i: client.post(
                "/api/v1/webhook/execution-complete", webhook_body(i), content_type="application/json",
                HTTP_X_WEBHOOK_TOKEN=token,
            ),
            "webhook-job": lambda i: client.post(
                "/api/v1/webhook/execution-complete", webhook_body(i, *jobs[i]),
                content_type="application/json", HTTP_X_WEBHOOK_TOKEN=token,
            ),
            "accounts": lambda i: client.get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {jwt}"),
            "health": lambda i: client.get("/health"),
        }
        for name in args.only or list(paths):
            request = paths[name]
            for index in range(20):  # warm-up: imports, caches, the first connection
                response = request(args.requests + index)
                assert response.status_code < 300, (name, response.status_code, response.content[:300])
            if args.sql:
                from django.db import connection
                from django.test.utils import CaptureQueriesContext

                with CaptureQueriesContext(connection) as captured:
                    request(args.requests + 20)
                print(f"{name}: {len(captured.captured_queries)} statements")
                for query in captured.captured_queries:
                    print("   ", query["sql"][:220])
            profiler = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            for index in range(args.requests):
                request(index)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            print(f"{name:<10} {elapsed * 1000 / args.requests:6.2f} ms per request (in-process, {args.requests} requests)")
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
                print(out.getvalue())
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
