"""Relay robots that report only while running (API.md §1, docs/api.md §5 "the idle
heartbeat"): quiet, a robot that never sent an idle heartbeat is `unknown`, not `offline`, and
raises no `robot_offline`; once it sends idle heartbeats its silence means offline again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import presence
from accounts.models import Account
from alerts.models import Alert, Channel

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts"
HEARTBEAT = "/api/v1/webhook/heartbeat"


@pytest.fixture
def now(monkeypatch, settings):
    settings.RPA_PRESENCE_TIMEOUT = 120
    moment = [timezone.now()]
    monkeypatch.setattr(presence, "clock", lambda: moment[0])
    return moment


def make_channel(**fields) -> Channel:
    return Channel.objects.create(name="ops", kind="webhook", target="http://127.0.0.1:9/hook", **fields)


def presence_of(client, account) -> str:
    return client.get(f"{ACCOUNTS}/{account.pk}").json()["presence"]


def test_a_quiet_robot_that_never_sent_an_idle_heartbeat_is_unknown_and_never_alerts(
    viewer_client, robot_client, make_account, make_task, now
):
    make_channel(events=["robot_offline", "robot_online"])
    robot = make_account(shadow_bot_account="relay_bot")
    make_task(account=robot, app_name="daily_report")
    body = {"shadow_bot_account": "relay_bot", "app_name": "daily_report"}
    for _round in range(3):  # runs now and then, quiet for longer than the timeout in between
        assert robot_client.post(HEARTBEAT, body, format="json").status_code == 200
        assert presence_of(viewer_client, robot) in ("online", "busy")
        start = now[0]
        for minutes in range(1, 30):
            now[0] = start + timedelta(minutes=minutes)
            presence.sweep_presence()
        assert presence_of(viewer_client, robot) == "unknown"
        assert Account.objects.get(pk=robot.pk).presence_state == "unknown"
    assert not Alert.objects.exists()
    assert presence.presence_counts()["offline"] == 0


def test_after_an_idle_heartbeat_silence_is_offline_with_one_alert(viewer_client, robot_client, make_account, now):
    make_channel(events=["robot_offline", "robot_online"])
    robot = make_account(shadow_bot_account="relay_bot")
    assert robot_client.post(HEARTBEAT, {"shadow_bot_account": "relay_bot"}, format="json").status_code == 200
    now[0] += timedelta(minutes=5)
    presence.sweep_presence()
    presence.sweep_presence()
    assert presence_of(viewer_client, robot) == "offline"
    assert list(Alert.objects.values_list("event", flat=True)) == ["robot_offline"]


def test_a_yingdao_robot_seen_by_its_client_list_goes_offline(viewer_client, make_account, now):
    """Yingdao's client list includes idle robots: silence there is meaningful."""
    robot = make_account(dispatch_backend="yingdao", yingdao_account_name="bot@corp")
    presence.record_contact(account_id=robot.pk)
    now[0] += timedelta(minutes=5)
    assert [flip.after for flip in presence.sweep_presence()] == ["offline"]
    assert presence_of(viewer_client, robot) == "offline"
