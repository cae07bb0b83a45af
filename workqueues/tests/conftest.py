"""Fixtures of the work queue tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workqueues.models import WorkQueue


@pytest.fixture
def now():
    """The tests' clock: every workflow takes `now`; time passes by adding to it."""
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_queue(db):
    def make(name: str = "orders", **fields) -> WorkQueue:
        return WorkQueue.objects.create(name=name, **fields)

    return make
