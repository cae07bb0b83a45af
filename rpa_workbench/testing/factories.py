"""Test data builders shared by every app's tests (exposed as fixtures in conftest.py)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from accounts.models import Account
from executionlogs.models import ExecutionLog
from tasks.models import Task

_counter = itertools.count(1)


def make_account(**fields) -> Account:
    n = next(_counter)
    fields.setdefault("shadow_bot_account", f"bot_{n:03d}")
    fields.setdefault("host_ip", f"10.0.{n // 250}.{n % 250 + 1}")
    fields.setdefault("port", 8000)
    return Account.objects.create(**fields)


def make_task(account: Account | None = None, **fields) -> Task:
    n = next(_counter)
    fields.setdefault("task_name", f"Task {n}")
    fields.setdefault("app_name", f"app_{n:03d}")
    return Task.objects.create(account=account or make_account(), **fields)


def make_log(**fields) -> ExecutionLog:
    n = next(_counter)
    start = fields.pop("start_time", None) or timezone.now() - timedelta(minutes=n)
    duration = fields.pop("duration", 60.0)
    fields.setdefault("app_name", "daily_report")
    fields.setdefault("shadow_bot_account", "bot_01")
    fields.setdefault("host_ip", "192.168.1.100")
    fields.setdefault("status", "completed")
    fields.setdefault("text", f"Ran {fields['app_name']}: {fields['status']}")
    fields.setdefault("end_time", start + timedelta(seconds=duration))
    return ExecutionLog.objects.create(start_time=start, duration=duration, **fields)
