"""Robot presence from client/list: paged, feeding last_seen_at of yingdao accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import DispatchBackend
from yingdao import clients_sync
from yingdao.models import RobotClient

pytestmark = pytest.mark.django_db


def yingdao_account(make_account, name: str, **extra):
    return make_account(
        shadow_bot_account=name.split("@")[0],
        dispatch_backend=DispatchBackend.YINGDAO,
        yingdao_account_name=name,
        **extra,
    )


def test_every_page_is_read_and_listed_robots_update_their_accounts(fake_yingdao, make_account):
    for n in range(120):  # three pages of 50
        fake_yingdao.add_client(f"bot{n}@corp", status="idle" if n % 3 else "offline")
    online = yingdao_account(make_account, "bot1@corp", host_ip="10.0.0.1")
    offline = yingdao_account(make_account, "bot0@corp", host_ip="10.0.0.2")
    relay_namesake = make_account(shadow_bot_account="relay", host_ip="10.0.0.3", yingdao_account_name="bot2@corp")
    now = timezone.now()

    summary = clients_sync.sync_clients(now=now)

    assert summary.listed == 120
    assert len(fake_yingdao.calls("client/list")) == 3
    online.refresh_from_db()
    offline.refresh_from_db()
    relay_namesake.refresh_from_db()
    assert online.last_seen_at == now
    assert online.presence_state == "online"  # presence announced the robot coming online
    assert offline.last_seen_at is None  # listed as offline: no contact
    assert relay_namesake.last_seen_at is None  # a relay account is not this backend's robot
    assert RobotClient.objects.count() == 120
    assert RobotClient.objects.get(name="bot1@corp").account == online
    assert RobotClient.objects.get(name="bot0@corp").presence == "offline"


def test_last_seen_never_moves_backwards(fake_yingdao, make_account):
    fake_yingdao.add_client("bot@corp", status="running")
    later = timezone.now() + timedelta(minutes=5)
    account = yingdao_account(make_account, "bot@corp", last_seen_at=later)  # e.g. a callback just came
    clients_sync.sync_clients(now=timezone.now())
    account.refresh_from_db()
    assert account.last_seen_at == later
    assert RobotClient.objects.get().presence == "busy"


def test_unknown_status_spellings_are_kept_raw(fake_yingdao):
    fake_yingdao.add_client("odd@corp", status="SLEEPING")
    clients_sync.sync_clients()
    robot = RobotClient.objects.get()
    assert (robot.status, robot.presence) == ("SLEEPING", "unknown")


def test_a_failed_sync_changes_nothing_and_says_why(fake_yingdao, make_account):
    fake_yingdao.add_client("bot@corp")
    account = yingdao_account(make_account, "bot@corp")
    fake_yingdao.failures["client/list"] = (500, "服务繁忙 (busy)")
    summary = clients_sync.sync_clients()
    assert "服务繁忙 (busy)" in summary.error
    account.refresh_from_db()
    assert account.last_seen_at is None


def test_the_periodic_pass_runs_once_per_period_across_processes(fake_yingdao, settings):
    settings.RPA_YINGDAO_CLIENT_SYNC_SECONDS = 60
    now = timezone.now()
    assert clients_sync.run_due(now=now) is not None
    assert clients_sync.run_due(now=now + timedelta(seconds=30)) is None  # another process, same period
    assert clients_sync.run_due(now=now + timedelta(seconds=61)) is not None
    assert len(fake_yingdao.calls("client/list")) == 2


def test_no_sync_without_credentials_or_when_turned_off(fake_yingdao, settings):
    settings.RPA_YINGDAO_CLIENT_SYNC_SECONDS = 0
    assert clients_sync.run_due() is None
    settings.RPA_YINGDAO_CLIENT_SYNC_SECONDS = 60
    settings.RPA_YINGDAO_ACCESS_KEY_ID = ""
    assert clients_sync.run_due() is None
    assert fake_yingdao.requests == []


def test_run_yingdao_once_runs_the_due_sync(fake_yingdao, make_account, settings):
    from django.core.management import call_command

    settings.RPA_YINGDAO_CLIENT_SYNC_SECONDS = 60
    fake_yingdao.add_client("bot@corp")
    account = yingdao_account(make_account, "bot@corp")
    call_command("run_yingdao", "--once")
    call_command("run_yingdao", "--once")  # within the period: claimed already, nothing sent
    assert len(fake_yingdao.calls("client/list")) == 1
    account.refresh_from_db()
    assert account.last_seen_at is not None
