"""Which task a robot means by (account name, app name[, host IP]): one simple indexed query,
and the same choice as `Task.objects.for_robot`'s order when several match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db


def test_matching_is_one_query_without_ordering(make_task, make_account):
    task = make_task(account=make_account(shadow_bot_account="bot_x"), app_name="Daily_Report")
    with CaptureQueriesContext(connection) as queries:
        found = Task.objects.match_robot("bot_x", "daily_report")
    assert found == task
    assert found.account.shadow_bot_account == "bot_x"  # joined, no second query
    assert len(queries) == 1
    assert "ORDER BY" not in queries[0]["sql"].upper()


@pytest.mark.parametrize(
    "states",
    [
        # (status, last_run_time) of three same-named accounts' tasks; for_robot's order decides
        [("pending", None), ("running", None), ("pending", datetime(2026, 1, 2, tzinfo=UTC))],
        [("pending", datetime(2026, 1, 1, tzinfo=UTC)), ("pending", datetime(2026, 1, 3, tzinfo=UTC)), ("pending", None)],
        [("pending", None), ("pending", None), ("pending", None)],
    ],
)
def test_among_several_the_choice_follows_for_robots_order(make_task, make_account, states):
    for n, (status, last_run) in enumerate(states):
        account = make_account(shadow_bot_account="shared", host_ip=f"10.9.0.{n + 1}")
        make_task(account=account, app_name="app", status=TaskStatus(status), last_run_time=last_run)
    assert Task.objects.match_robot("shared", "APP") == Task.objects.for_robot("shared", "app").first()
    assert Task.objects.match_robot("shared", "app", "10.9.0.3").account.host_ip == "10.9.0.3"
    assert Task.objects.match_robot("shared", "other") is None
