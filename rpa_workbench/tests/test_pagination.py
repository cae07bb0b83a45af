"""The list envelope's paginator (API.md §0): `page_rows` adds what only the page's rows need
(annotations), after the count, to the page's rows only."""

from __future__ import annotations

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.models import Account
from rpa_workbench.pagination import EnvelopePagination


def paginate(query: str, queryset, page_rows):
    paginator = EnvelopePagination()
    rows = paginator.paginate_queryset(queryset, Request(APIRequestFactory().get(f"/x{query}")), page_rows=page_rows)
    return paginator, rows


@pytest.mark.django_db
def test_page_rows_shape_the_page_not_the_count(make_account):
    for name in ("a", "b", "c"):
        make_account(shadow_bot_account=name)
    seen = []

    def only_b(queryset):  # a page_rows that changed the count would show here
        seen.append(queryset)
        return queryset.filter(shadow_bot_account="b")

    paginator, rows = paginate("?page_size=2", Account.objects.order_by("shadow_bot_account"), only_b)
    assert paginator.total == 3 and [row.shadow_bot_account for row in rows] == ["b"]
    assert len(seen) == 1


@pytest.mark.django_db
def test_page_rows_are_not_asked_for_a_page_past_the_end(make_account):
    make_account()

    def refuse(queryset):
        raise AssertionError("no rows to annotate")

    paginator, rows = paginate("?page=2", Account.objects.all(), refuse)
    assert (paginator.total, rows) == (1, [])
