"""Fixtures for the jobs tests: jobs in any status, and a controllable clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from jobs import wakeup
from jobs.models import Job, snapshot_of


def build_job(task, status: str = "queued", **fields) -> Job:
    priority = fields.pop("priority", task.priority)
    fields.setdefault("created_at", timezone.now())
    fields.setdefault("source", "api")
    return Job.objects.create(
        **snapshot_of(task, priority),
        status=status,
        run_timeout_seconds=fields.pop("run_timeout_seconds", 3600),
        wait_timeout_seconds=fields.pop("wait_timeout_seconds", 1800),
        **fields,
    )


@pytest.fixture
def make_job(db):
    return build_job


class OwnPool:
    """The dispatcher's pool of this test; `drain()` waits until every send handed to it ran."""

    def drain(self) -> None:
        if wakeup._pool is not None:
            wakeup._pool.shutdown(wait=True)
            wakeup._pool = None


@pytest.fixture
def own_pool(monkeypatch, settings):
    """A fresh dispatcher pool of 8 threads for this test, drained at its end."""
    settings.RPA_DISPATCHER_THREADS = 8
    monkeypatch.setattr(wakeup, "_pool", None)
    pool = OwnPool()
    yield pool
    pool.drain()


class Clock:
    """`now` moves only when a test says so."""

    def __init__(self, start: datetime):
        self.now = start

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(timezone.now())


@pytest.fixture
def calls(monkeypatch):
    """Spy on the job workflows: the admin must call them, not write statuses itself."""
    from jobs import services

    seen: list[str] = []
    for name in ("cancel_job", "stop_job", "retry_job"):
        real = getattr(services, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, spy)
    return seen
