"""The account list is cheap (issue 18, "Lists are cheap"): its page's count is a plain COUNT of
the filtered accounts, without the task-count subquery and the presence CASE, which only the
page's rows carry; a page costs three statements (the JWT's user, the count, the page)."""

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


def count_statement(statements: list[str]) -> str:
    (count,) = [sql for sql in statements if sql.upper().startswith("SELECT COUNT(")]
    return count


@pytest.mark.django_db
def test_the_page_count_carries_no_annotation(admin_client_api, make_account, make_task):
    make_task(account=make_account())
    body, statements = list_statements(admin_client_api)
    assert body["total"] == 1 and body["items"][0]["task_count"] == 1
    count = count_statement(statements)
    assert "tasks_task" not in count and "CASE" not in count.upper() and "EXISTS" not in count.upper()


@pytest.mark.django_db
def test_a_page_costs_three_statements(admin_client_api, make_account, django_assert_num_queries):
    for _ in range(25):
        make_account()
    with django_assert_num_queries(3):  # the JWT's user, the count, the page (rows + annotations)
        body = admin_client_api.get(ACCOUNTS).json()
    assert (body["total"], len(body["items"])) == (25, 20)


@pytest.mark.django_db
def test_filtered_by_presence_the_count_and_the_rows_agree(viewer_client, make_account):
    now = presence.clock()
    make_account(last_seen_at=now)
    make_account(last_seen_at=now - timedelta(days=2))
    make_account()
    body, statements = list_statements(viewer_client, {"presence": "offline"})
    assert body["total"] == 1 and [item["presence"] for item in body["items"]] == ["offline"]
    assert "CASE" in count_statement(statements).upper()  # the filter needs it, the count keeps it
