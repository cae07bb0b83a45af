"""What matching a robot's report to its job costs as a task's history grows (not a test: it
prints figures). A task gains a job per run; a report must find the task's active job and an
ended run it may be about (jobs.reports._active_and_ended) without reading that history.

    .venv/bin/python bench/report_matching.py                      # SQLite, a fresh database
    DATABASE_URL=postgres://... .venv/bin/python bench/report_matching.py

Prints ms per match at 0, 1,000 and 20,000 ended jobs of the task, and the database's plan.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def setup() -> None:
    if os.environ.get("DATABASE_URL"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        import wrk_bench

        wrk_bench.prepare(Path(tempfile.mkdtemp(prefix="rpa_match_")), secrets.token_urlsafe(24))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account
    from jobs.models import Job, JobSource, JobStatus
    from jobs.reports import _active_and_ended
    from tasks.models import Task

    account = Account.objects.create(shadow_bot_account=f"match_{secrets.token_hex(3)}", host_ip="10.9.9.9", port=8000)
    task = Task.objects.create(task_name=f"match {account.shadow_bot_account}", account=account, app_name="match_app")
    now = timezone.now()

    class Report:
        start_time = now

    made = 0
    for history in (0, 1_000, 20_000):
        Job.objects.bulk_create([
            Job(
                id=uuid.uuid4(), task=task, account=account, task_name=task.task_name, app_name=task.app_name,
                status=JobStatus.COMPLETED, source=JobSource.ROBOT, run_timeout_seconds=60, wait_timeout_seconds=60,
                created_at=now - timedelta(minutes=61 + index), started_at=now - timedelta(minutes=61 + index),
                finished_at=now - timedelta(minutes=60 + index),
            )
            for index in range(made, history)
        ], batch_size=1000)
        made = history
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Job._meta.db_table}")
        for _ in range(20):
            _active_and_ended(task, Report)
        started = time.perf_counter()
        for _ in range(args.calls):
            _active_and_ended(task, Report)
        per_call = (time.perf_counter() - started) * 1000 / args.calls
        print(f"{connection.vendor:<10} {history:>6,} ended jobs of the task: {per_call:6.3f} ms per match")


if __name__ == "__main__":
    main()
