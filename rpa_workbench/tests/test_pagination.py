"""The list envelope's paginator (API.md §0): `page_rows` adds what only the page's rows need
(annotations) to the page's rows only; the total is counted only when the page cannot tell it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.models import Account
from rpa_workbench.pagination import EnvelopePagination


def paginate(query: str, queryset, page_rows):
    paginator = EnvelopePagination()
    rows = paginator.paginate_queryset(queryset, Request(APIRequestFactory().get(f"/x{query}")), page_rows=page_rows)
    return paginator, rows


@pytest.mark.django_db
def test_page_rows_add_to_the_page_rows(make_account):
    for name in ("a", "b", "c"):
        make_account(shadow_bot_account=name)
    seen = []

    def marked(queryset):
        seen.append(queryset)
        return queryset.annotate(marker=Value("page"))

    paginator, rows = paginate("?page_size=2", Account.objects.order_by("shadow_bot_account"), marked)
    assert paginator.total == 3 and [(row.shadow_bot_account, row.marker) for row in rows] == [("a", "page"), ("b", "page")]
    assert len(seen) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "accounts, query, total, rows, counted",
    [
        (0, "", 0, 0, False),
        (3, "?page_size=5", 3, 3, False),  # the only page: no COUNT
        (5, "?page_size=5", 5, 5, False),
        (6, "?page_size=5", 6, 5, True),  # a next page exists: counted
        (6, "?page_size=5&page=2", 6, 1, False),  # the last page: no COUNT
        (10, "?page_size=5&page=2", 10, 5, False),
        (6, "?page_size=5&page=3", 6, 0, True),  # past the end: counted
        (0, "?page=2", 0, 0, True),
    ],
)
def test_the_total_is_counted_only_when_the_page_cannot_tell_it(accounts, query, total, rows, counted, make_account):
    for _ in range(accounts):
        make_account()
    with CaptureQueriesContext(connection) as captured:
        paginator, page = paginate(query, Account.objects.order_by("created_at"), None)
    assert (paginator.total, len(page)) == (total, rows)
    assert any(q["sql"].upper().startswith("SELECT COUNT(") for q in captured.captured_queries) is counted


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["21504876224185766748654291243761664000", str(2**62)])
def test_a_page_far_past_the_end_is_empty_with_the_real_total(page, make_account, admin_client):
    """Found by `make fuzz`: an OFFSET past 64 bits made the database driver raise (a 500)."""
    make_account(shadow_bot_account="only")
    response = admin_client.get(f"/api/v1/accounts?page={page}&page_size=13")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["items"], body["page"]) == (1, [], int(page))
