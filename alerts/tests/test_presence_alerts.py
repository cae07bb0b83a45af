"""Presence flips alert once per flip: a robot offline for an hour gives one `robot_offline`,
then one `robot_online` when it is back; its first sighting is no alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import presence
from alerts.models import Alert, Delivery

pytestmark = pytest.mark.django_db


def test_an_hour_offline_is_one_offline_alert_then_one_online_alert(settings, monkeypatch, make_account, make_channel):
    settings.RPA_PRESENCE_TIMEOUT = 120
    channel = make_channel(events=["robot_offline", "robot_online"])
    robot = make_account(idle_heartbeat_at=timezone.now())  # its silence means offline
    now = [timezone.now()]
    monkeypatch.setattr(presence, "clock", lambda: now[0])

    presence.record_contact(account_id=robot.pk)  # first sighting: unknown → online
    assert not Alert.objects.exists()

    start = now[0]
    for minutes in range(3, 61):  # silent for an hour, swept every minute
        now[0] = start + timedelta(minutes=minutes)
        presence.sweep_presence()
    offline = Alert.objects.get()
    assert (offline.event, offline.account_id, offline.severity) == ("robot_offline", robot.pk, "critical")
    assert offline.message.startswith(f"【RPA】机器人离线：机器人 {robot.shadow_bot_account}，时间")

    for seconds in range(0, 50, 10):  # back: several heartbeats
        now[0] = start + timedelta(minutes=61, seconds=seconds)
        presence.record_contact(account_id=robot.pk)
    assert list(Alert.objects.order_by("occurred_at").values_list("event", flat=True)) == [
        "robot_offline",
        "robot_online",
    ]
    assert Delivery.objects.filter(channel=channel).count() == 2
