"""What each kept private override buys, measured in-process with it and without it.

The table in docs/architecture.md ("Private overrides") keeps an override only where it buys at
least 20 % on a path a user or robot feels. This script prints the figure for each one that can
be switched off in-process, on the same fresh SQLite database as bench/wrk_bench.py (20
accounts, a robot with its task, an admin) plus `--logs` execution logs for the date hierarchy:

- `representation`: `GET /api/v1/accounts` (a page of 20) with list rows written by
  `rpa_workbench/representation.py`'s plan, and by DRF's own `to_representation`;
- `filtering`: the same page with the FilterSet skipped when no filter is named
  (`rpa_workbench/filtering.py`), and built as django-filter does;
- `calendar`: the execution logs' admin list with its date hierarchy read from two index
  look-ups (`executionlogs/admin.py` `CalendarQuerySet`), and with Django's `DISTINCT` scan.

    .venv/bin/python bench/overrides.py                 # 300 requests per path, 200,000 logs
    .venv/bin/python bench/overrides.py --requests 100 --logs 50000

Each figure is the mean of `--requests` requests through Django's test client (no server, one
thread), after a warm-up; the two sides alternate in rounds so a drift of the machine hits both.
Quote the load average printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wrk_bench  # noqa: E402  (the bench folder's own module: the shared set-up)

ROUNDS = 5


@contextmanager
def representation_off() -> Iterator[None]:
    from rpa_workbench import representation

    original = representation.plan_for
    representation.plan_for = lambda serializer_class: None  # every row written by DRF
    try:
        yield
    finally:
        representation.plan_for = original


@contextmanager
def filtering_off() -> Iterator[None]:
    from rpa_workbench import filtering

    original = filtering.is_identity_when_empty
    filtering.is_identity_when_empty = lambda filterset_class: False  # always django-filter
    try:
        yield
    finally:
        filtering.is_identity_when_empty = original


@contextmanager
def calendar_off() -> Iterator[None]:
    from django.db import models

    from executionlogs.admin import CalendarQuerySet

    saved = {name: CalendarQuerySet.__dict__[name] for name in ("aggregate", "datetimes")}
    for name in saved:
        setattr(CalendarQuerySet, name, getattr(models.QuerySet, name))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(CalendarQuerySet, name, method)


def add_logs(count: int) -> None:
    """`count` execution logs of one robot over about a year, in bulk."""
    from accounts.models import Account
    from executionlogs.models import ExecutionLog, ExecutionStatus

    account = Account.objects.get(shadow_bot_account=wrk_bench.ACCOUNT)
    start = datetime(2025, 12, 1, tzinfo=UTC)
    step = timedelta(days=365) / max(count, 1)
    batch = []
    for index in range(count):
        began = start + step * index
        batch.append(ExecutionLog(
            account=account, shadow_bot_account=account.shadow_bot_account, app_name=wrk_bench.APP,
            status=ExecutionStatus.COMPLETED, start_time=began, end_time=began + timedelta(seconds=3),
            duration=3.0, execution_id=f"bench-{index}",
        ))
        if len(batch) == 5000:
            ExecutionLog.objects.bulk_create(batch)
            batch = []
    ExecutionLog.objects.bulk_create(batch)


def mean_ms(request: Callable[[int], object], count: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        request(index)
    return (time.perf_counter() - started) * 1000 / count


def compare(name: str, request: Callable[[int], object], off, count: int) -> None:
    for index in range(10):  # warm-up, both ways
        request(index)
        with off():
            request(index)
    kept, without = [], []
    for _ in range(ROUNDS):
        kept.append(mean_ms(request, max(count // ROUNDS, 1)))
        with off():
            without.append(mean_ms(request, max(count // ROUNDS, 1)))
    kept_ms, without_ms = min(kept), min(without)
    gain = (without_ms - kept_ms) / without_ms * 100
    print(f"{name:<15} with {kept_ms:7.2f} ms   without {without_ms:7.2f} ms   buys {gain:5.1f} % of the request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--logs", type=int, default=200_000, help="execution logs for the date hierarchy")
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="rpa_overrides_"))
    try:
        jwt = wrk_bench.prepare(work_dir, secrets.token_urlsafe(24))
        from django.contrib.auth import get_user_model
        from django.test import Client

        add_logs(args.logs)
        api = Client(HTTP_HOST="127.0.0.1")
        admin = Client(HTTP_HOST="127.0.0.1")
        admin.force_login(get_user_model().objects.filter(is_superuser=True).first())

        def accounts(_: int):
            response = api.get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {jwt}")
            assert response.status_code == 200, response.content[:300]

        def logs_admin(_: int):
            response = admin.get("/admin/executionlogs/executionlog/")
            assert response.status_code == 200, response.status_code

        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
              f"{args.requests} requests a side, best of {ROUNDS} rounds")
        compare("representation", accounts, representation_off, args.requests)
        compare("filtering", accounts, filtering_off, args.requests)
        compare("calendar", logs_admin, calendar_off, max(args.requests // 10, ROUNDS))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
