"""Issue 13 item 9: sorting an admin list by a nullable column puts the empty values last in
both directions, on PostgreSQL too (which puts NULLs first when descending)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

URL = "/admin/accounts/account/"


def listed(client, column: str, descending: bool) -> list[str]:
    index = client.get(URL).context["cl"].list_display.index(column)
    page = client.get(URL, {"o": f"{'-' if descending else ''}{index}"})
    return [account.shadow_bot_account for account in page.context["cl"].result_list]


@pytest.mark.parametrize("descending", [True, False])
def test_never_heard_accounts_come_last_when_sorting_by_last_seen(client, admin_user, make_account, descending):
    now = timezone.now()
    make_account(shadow_bot_account="never_heard")
    make_account(shadow_bot_account="heard_long_ago", last_seen_at=now - datetime.timedelta(days=2))
    make_account(shadow_bot_account="heard_now", last_seen_at=now)
    client.force_login(admin_user)
    order = listed(client, "last_seen_at", descending)
    heard = ["heard_now", "heard_long_ago"] if descending else ["heard_long_ago", "heard_now"]
    assert order == [*heard, "never_heard"]
