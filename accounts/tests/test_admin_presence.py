"""The accounts admin: presence badges and filter, recent runs on an account's page."""

from __future__ import annotations

import pytest

from accounts import presence

pytestmark = pytest.mark.django_db

ACCOUNTS_URL = "/admin/accounts/account/"


def test_list_shows_presence_badges_and_filters_on_presence(root, make_account):
    seen = make_account(shadow_bot_account="bot_seen", host_ip="10.0.0.1")
    make_account(shadow_bot_account="bot_never", host_ip="10.0.0.2")
    presence.record_contact(account_id=seen.pk)

    page = root.get(ACCOUNTS_URL).content.decode()
    assert 'class="badge badge-online"' in page and 'class="badge badge-unknown"' in page

    online = root.get(ACCOUNTS_URL, {"presence": "online"}).content.decode()
    assert "bot_seen" in online and "bot_never" not in online
    assert "?presence=offline" in page  # the filter offers every presence


def test_account_page_shows_presence_and_recent_runs(root, make_account, make_log):
    account = make_account()
    log = make_log(account=account, duration=42.5)
    page = root.get(f"{ACCOUNTS_URL}{account.pk}/change/").content.decode()
    assert 'class="badge badge-unknown"' in page
    assert f"/admin/executionlogs/executionlog/{log.pk}/change/" in page and "42.5s" in page
