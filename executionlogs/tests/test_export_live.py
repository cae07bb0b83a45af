"""The export under Daphne (ASGI): streamed through an async iterator, same bytes as WSGI."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from executionlogs.export import HEADER
from executionlogs.models import ExecutionLog

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_export_streams_every_row_under_daphne(live_server_factory, admin_user):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ExecutionLog.objects.bulk_create(
        ExecutionLog(
            id=uuid.uuid4(),
            text="=cmd|' /C calc'!A0" if n == 0 else f"run {n}",
            app_name="bulk",
            shadow_bot_account="bot_01",
            status="completed",
            start_time=start + timedelta(minutes=n),
            duration=1.0,
        )
        for n in range(1234)
    )
    server = live_server_factory()
    token = str(AccessToken.for_user(admin_user))
    with requests.get(
        f"{server.url}/api/v1/logs/export?order=asc",
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=30,
    ) as response:
        assert response.status_code == 200, server.log()
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers.get("Transfer-Encoding") == "chunked"  # streamed, no Content-Length
        body = response.raw.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert len(rows) == 1 + 1234
    assert rows[1][1].startswith("'=")
    assert "must consume synchronous iterators" not in server.log()
