"""The robot's side of the state machine, called directly: heartbeats, and confirmations when one
account name exists on several hosts."""

from __future__ import annotations

import pytest

from accounts.models import Account, AccountStatus
from jobs import reports, task_control
from tasks.models import ControlSource, Task, TaskStatus

pytestmark = pytest.mark.django_db


def test_a_heartbeat_marks_the_account_running_and_the_task_seen(make_account, make_task):
    task = make_task(
        make_account(shadow_bot_account="bot_01", status=AccountStatus.COMPLETED), app_name="daily_report"
    )

    account = reports.record_heartbeat(shadow_bot_account="bot_01", app_name="Daily_Report")

    assert account.pk == task.account_id
    stored = Account.objects.get(pk=account.pk)
    assert (stored.status, stored.recent_app) == ("running", "Daily_Report")
    assert stored.last_heartbeat_at is not None
    assert Task.objects.get(pk=task.pk).last_seen_at == stored.last_heartbeat_at
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING  # a heartbeat is not a confirmation


def test_a_heartbeat_without_an_app_still_counts_for_the_account(make_account):
    account = make_account(shadow_bot_account="bot_01")
    assert reports.record_heartbeat(shadow_bot_account="bot_01", app_name="").pk == account.pk
    assert Account.objects.get(pk=account.pk).status == AccountStatus.RUNNING


def test_a_heartbeat_names_the_host_when_the_account_name_is_on_several(make_account):
    make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1")
    second = make_account(shadow_bot_account="bot_01", host_ip="10.0.0.2")

    beat = reports.record_heartbeat(shadow_bot_account="bot_01", app_name="", host_ip="10.0.0.2")

    assert beat.pk == second.pk
    assert set(Account.objects.values_list("host_ip", "status")) == {
        ("10.0.0.1", "pending"),
        ("10.0.0.2", "running"),
    }


def test_a_heartbeat_from_an_unknown_account_is_none(make_account):
    make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1")
    assert reports.record_heartbeat(shadow_bot_account="bot_99", app_name="x") is None
    assert reports.record_heartbeat(shadow_bot_account="bot_01", app_name="", host_ip="10.0.0.9") is None


def test_confirm_with_a_host_picks_that_hosts_task(make_account, make_task, fake_relay):
    first = make_task(make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1"), app_name="daily_report")
    second = make_task(make_account(shadow_bot_account="bot_01", host_ip="10.0.0.2"), app_name="daily_report")
    task_control.start_task(task=second, source=ControlSource.API)

    confirmed = reports.confirm(
        shadow_bot_account="bot_01", app_name="daily_report", action="START", host_ip="10.0.0.2"
    )

    assert confirmed.pk == second.pk
    assert Task.objects.get(pk=first.pk).status == TaskStatus.PENDING
    assert Task.objects.get(pk=second.pk).status == TaskStatus.RUNNING


def test_confirm_stop_without_a_host_stops_the_running_one(make_account, make_task):
    idle = make_task(make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1"), app_name="daily_report")
    busy = make_task(
        make_account(shadow_bot_account="bot_01", host_ip="10.0.0.2", status=AccountStatus.RUNNING),
        app_name="daily_report",
        status=TaskStatus.RUNNING,
    )

    confirmed = reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="STOP")

    assert confirmed.pk == busy.pk
    busy = Task.objects.select_related("account").get(pk=busy.pk)
    assert (busy.status, busy.account.status) == ("pending", "pending")
    assert Task.objects.get(pk=idle.pk).status == TaskStatus.PENDING
