"""Issue 13 item 9: ordering by `last_heartbeat_at` descending must put never-heard accounts
last on PostgreSQL too (it sorts NULLs first when descending; SQLite sorts them last)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from accounts.models import Account
from jobs import reports

pytestmark = pytest.mark.django_db


def test_a_heartbeat_without_a_task_goes_to_the_account_heard_from_last(make_account):
    never_heard = make_account(shadow_bot_account="bot_dup", host_ip="10.7.0.1")  # the older one
    heard = make_account(
        shadow_bot_account="bot_dup",
        host_ip="10.7.0.2",
        last_heartbeat_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    chosen = reports.record_heartbeat(shadow_bot_account="bot_dup", app_name="no_such_app")
    assert chosen.pk == heard.pk
    assert Account.objects.get(pk=never_heard.pk).last_heartbeat_at is None
