"""Issue 13 item 9: a `sort_by` on a nullable column puts rows without a value last, in both
directions and on both databases (PostgreSQL sorts NULLs first when descending)."""

from __future__ import annotations

import pytest

from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("field", ["end_time", "duration"])
def test_rows_without_a_value_come_last(admin_client_api, make_log, field, order):
    unfinished = make_log(app_name="unfinished")
    ExecutionLog.objects.filter(pk=unfinished.pk).update(end_time=None, duration=None)
    finished = [make_log(app_name=f"done_{n}", duration=10.0 + n) for n in range(2)]
    response = admin_client_api.get("/api/v1/logs", {"sort_by": field, "order": order})
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["items"]]
    assert ids[-1] == str(unfinished.pk)
    assert set(ids[:-1]) == {str(log.pk) for log in finished}
