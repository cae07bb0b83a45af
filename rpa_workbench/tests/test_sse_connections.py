"""Long-lived streams must not pin database connections: each storage read closes its own."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db import connections

from accounts.models import Account
from rpa_workbench import sse


@pytest.mark.django_db(transaction=True)
def test_a_stream_storage_read_closes_the_connection_it_used():
    used = []

    def read() -> int:
        count = Account.objects.count()
        used.append(connections["default"])
        return count

    assert async_to_sync(sse.without_pinned_connection(read))() == 0
    assert used[0].connection is None


@pytest.mark.django_db(transaction=True)
def test_a_failing_storage_read_closes_its_connection_too():
    used = []

    def read() -> None:
        Account.objects.count()
        used.append(connections["default"])
        raise LookupError("storage went away")

    with pytest.raises(LookupError):
        async_to_sync(sse.without_pinned_connection(read))()
    assert used[0].connection is None
