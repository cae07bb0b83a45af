"""Benchmark of the dashboard at a long history (not a test: it prints figures).

Fills a fresh SQLite database in its own temporary directory (migrated first) with `--rows`
execution logs spread over `--days` days through `bulk_create`, then times the three dashboard
endpoints and the page with Django's in-process test client, logged in as a `viewer`, and
prints p50/p95 per URL. Goal: every default URL ≤ 100 ms p50 at 1,000,000 logs.

    .venv/bin/python bench/dashboard.py                 # 1M logs over 400 days
    .venv/bin/python bench/dashboard.py --rows 100000   # quicker
    .venv/bin/python bench/dashboard.py --keep          # keep the database, reuse with --db PATH
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Covering versions of two existing indexes (same leading columns, so nothing else loses):
# the performance buckets read (start_time, status, duration) and the ranking reads

URLS = [
    ("stats", "/api/v1/dashboard/stats"),
    ("performance (7 days, default)", "/api/v1/dashboard/performance"),
    ("performance (30 days)", "/api/v1/dashboard/performance?days=30"),
    ("performance (90 days)", "/api/v1/dashboard/performance?days=90"),
    ("performance (365 days)", "/api/v1/dashboard/performance?days=365"),
    ("performance (365 days, month)", "/api/v1/dashboard/performance?days=365&dimension=month"),
    ("execution-rank", "/api/v1/dashboard/execution-rank"),
    ("page /dashboard/ (7 days)", "/dashboard/"),
    ("page /dashboard/?days=30", "/dashboard/?days=30"),
    ("page /dashboard/?days=90", "/dashboard/?days=90"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="execution logs to insert (default 1,000,000)"
    )
    parser.add_argument(
        "--days", type=int, default=400, help="days of history to spread them over (default 400)"
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per URL (default 30)")
    parser.add_argument("--db", help="reuse this already-filled SQLite file instead of making a new one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database afterwards")
    return parser.parse_args()


def configure(db_path: Path, work_dir: Path) -> None:
    """Point Django at the benchmark database before it is imported."""
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["RPA_VAR_DIR"] = str(work_dir / "var")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "rpa_workbench.settings"
    os.environ.setdefault("RPA_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def fill(rows: int, days: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Account
    from executionlogs.models import ExecutionLog
    from tasks.models import Task

    rng = random.Random(6)
    accounts = [
        Account.objects.create(
            shadow_bot_account=f"bot_{n:02d}",
            host_ip=f"10.0.0.{n + 1}",
            port=8000,
            status=rng.choice(["pending", "running", "completed", "failed"]),
        )
        for n in range(50)
    ]
    apps = [f"app_{n:02d}" for n in range(40)]
    for n, app in enumerate(apps * 5):
        Task.objects.create(task_name=f"Task {n}", account=accounts[n % 50], app_name=app)

    now = timezone.now()
    start = now - timedelta(days=days)
    step = timedelta(days=days) / rows  # distinct start times keep the unique constraint happy
    batch_size = 5_000
    began = time.perf_counter()
    for first in range(0, rows, batch_size):
        batch = []
        for i in range(first, min(first + batch_size, rows)):
            started = start + step * i
            duration = round(rng.uniform(20, 1800), 1)
            status = "failed" if rng.random() < 0.06 else "completed"
            account = accounts[i % 50]
            app = apps[rng.randrange(len(apps))]
            batch.append(
                ExecutionLog(
                    id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    text=f"Ran {app}: {status}",
                    app_name=app,
                    shadow_bot_account=account.shadow_bot_account,
                    host_ip=account.host_ip,
                    status=status,
                    start_time=started,
                    end_time=started + timedelta(seconds=duration),
                    duration=duration,
                    account_id=account.pk,
                )
            )
        with transaction.atomic():
            ExecutionLog.objects.bulk_create(batch)
        done = first + len(batch)
        if done % 100_000 == 0 or done == rows:
            print(f"  inserted {done:>9,} logs  ({time.perf_counter() - began:6.1f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as `PRAGMA optimize` keeps them on a live DB


def measure(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from executionlogs.models import ExecutionLog

    user, created = get_user_model().objects.get_or_create(username="bench_viewer")
    if created:
        user.groups.add(Group.objects.get(name="viewer"))
    client = Client()
    client.force_login(user)
    print(
        f"\n{ExecutionLog.objects.count():,} execution logs; {repeat} timed requests per URL (viewer session)\n"
    )
    print(f"{'URL':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, url in URLS:
        response = client.get(url)
        if response.status_code != 200:
            print(f"{label:<34} HTTP {response.status_code}")
            continue
        client.get(url)  # warm
        timings = []
        for _ in range(repeat):
            began = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - began) * 1000)
        p50 = statistics.median(timings)
        p95 = statistics.quantiles(timings, n=20, method="inclusive")[18] if len(timings) >= 2 else timings[0]
        print(f"{label:<34} {p50:>8.1f} {p95:>8.1f} {max(timings):>8.1f}", flush=True)


def main() -> None:
    args = parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="rpa-bench-dashboard-"))
    db_path = Path(args.db) if args.db else work_dir / "bench.sqlite3"
    configure(db_path, work_dir)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not args.db:
        print(f"Filling {db_path} with {args.rows:,} logs over {args.days} days …", flush=True)
        fill(args.rows, args.days)
    measure(args.repeat)
    if args.keep or args.db:
        print(f"\nDatabase kept at {db_path}")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
