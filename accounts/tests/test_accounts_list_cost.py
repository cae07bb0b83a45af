"""The account list is cheap (issue 18, "Lists are cheap"): a page costs the JWT's user, the
newest event position (the cached reads' key, issue 28: rpa_workbench/list_cache.py) and the
page's rows (with their task count and presence), plus a plain COUNT of the filtered accounts
only when the page cannot tell the total (a next page exists, or the page is past the end);
the count carries neither the task-count subquery nor the presence CASE."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import presence

ACCOUNTS = "/api/v1/accounts"


def list_statements(client, params=None) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(ACCOUNTS, params or {})
    assert response.status_code == 200, response.content
    return response.json(), [query["sql"] for query in captured.captured_queries]


def count_statements(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.upper().startswith("SELECT COUNT(")]


@pytest.mark.django_db
def test_a_short_list_costs_two_statements(admin_client_api, make_account, make_task):
    make_task(account=make_account())
    make_account()
    body, statements = list_statements(admin_client_api)
    assert (body["total"], body["total_pages"], len(body["items"])) == (2, 1, 2)
    assert sorted(item["task_count"] for item in body["items"]) == [0, 1]
    assert len(statements) == 3 and not count_statements(statements)  # the JWT's user, the key, the page


@pytest.mark.django_db
def test_a_first_page_of_many_costs_three_and_counts_without_annotations(admin_client_api, make_account):
    for _ in range(25):
        make_account()
    body, statements = list_statements(admin_client_api)
    assert (body["total"], body["total_pages"], len(body["items"])) == (25, 2, 20)
    assert len(statements) == 4
    (count,) = count_statements(statements)
    assert "tasks_task" not in count and "CASE" not in count.upper() and "EXISTS" not in count.upper()
    body, statements = list_statements(admin_client_api, {"page": 2})  # the last page tells the total
    assert (body["total"], len(body["items"]), len(statements)) == (25, 5, 3)


@pytest.mark.django_db
def test_filtered_by_presence_the_count_and_the_rows_agree(viewer_client, make_account):
    now = presence.clock()
    make_account(last_seen_at=now)
    for _ in range(3):
        make_account(last_seen_at=now - timedelta(days=2), idle_heartbeat_at=now - timedelta(days=2))  # silence = offline
    make_account()
    body, statements = list_statements(viewer_client, {"presence": "offline", "page_size": 2})
    assert (body["total"], body["total_pages"]) == (3, 2)
    assert [item["presence"] for item in body["items"]] == ["offline", "offline"]
    (count,) = count_statements(statements)
    assert "CASE" in count.upper()  # the filter needs it, the count keeps it
