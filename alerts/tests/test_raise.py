"""raise_alert: the alert and its deliveries are written in the caller's transaction, for the
channels that want the event and cover the robot; the SSE `alert` event follows the commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from alerts.models import Alert, Delivery, DeliveryStatus
from alerts.services import raise_alert

pytestmark = pytest.mark.django_db


def test_one_pending_delivery_per_matching_enabled_channel(make_channel, make_account, make_task):
    robot, other = make_account(), make_account()
    task = make_task(account=robot)
    everyone = make_channel(events=["job_failed"])
    this_robot = make_channel(events=["job_failed", "robot_lost"], accounts=[robot])
    make_channel(events=["job_failed"], accounts=[other])  # another robot's channel
    make_channel(events=["robot_offline"])  # not this event
    make_channel(events=["job_failed"], enabled=False)

    alert = raise_alert(event="job_failed", task=task, details={"reason": "robot_reported_failure"})

    deliveries = Delivery.objects.filter(alert=alert)
    assert {d.channel_id for d in deliveries} == {everyone.pk, this_robot.pk}
    assert all(d.status == DeliveryStatus.PENDING and d.attempts == 0 for d in deliveries)
    assert all(d.next_attempt_at == alert.occurred_at and d.message == alert.message for d in deliveries)
    assert alert.account_id == robot.pk and alert.task_id == task.pk


def test_a_rolled_back_change_records_and_publishes_nothing(
    make_channel, make_task, published_events, django_capture_on_commit_callbacks
):
    make_channel(events=["dispatch_failed"])
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            raise_alert(event="dispatch_failed", task=task)
            raise RuntimeError("the change that caused it failed")
    assert Alert.objects.count() == 0 and Delivery.objects.count() == 0
    assert [kind for kind, _ in published_events if kind == "alert"] == []


def test_the_alert_event_is_published_after_commit(make_task, published_events, django_capture_on_commit_callbacks):
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_alert(event="robot_lost", task=task, severity="critical")
        assert published_events == []  # not before the commit
    assert ("alert", {
        "alert_id": str(alert.pk),
        "event": "robot_lost",
        "severity": "critical",
        "message": alert.message,
        "account_id": str(task.account_id),
        "task_id": str(task.pk),
        "job_id": None,
    }) in published_events


def test_message_names_robot_app_event_and_robot_time_in_both_languages(settings, make_task):
    settings.RPA_ROBOT_TIMEZONE = "Asia/Shanghai"
    task = make_task(app_name="daily_report")
    when = datetime(2026, 1, 21, 6, 30, tzinfo=UTC)
    alert = raise_alert(event="job_failed", task=task, details={"reason": "robot_reported_failure"}, now=when)
    zh, en = alert.message.splitlines()[:2]
    robot = task.account.shadow_bot_account
    assert zh.startswith("【RPA】运行失败") and robot in zh and "daily_report" in zh
    assert en.startswith("[RPA] Job failed: robot " + robot) and "app daily_report" in en
    assert "2026-01-21 14:30:00 (Asia/Shanghai)" in en and "reason: Robot reported a failure" in en
    assert "原因：机器人报告失败" in zh  # the reason's label, not its code
    assert len(alert.message.splitlines()) == 2  # no RPA_PUBLIC_URL, no link


def test_message_links_to_the_job_or_log_page_when_a_public_url_is_set(settings, make_task):
    settings.RPA_PUBLIC_URL = "https://rpa.example.com"
    task = make_task()
    alert = raise_alert(event="job_failed", task=task, details={"log_id": "42"})
    assert alert.message.splitlines()[-1] == "https://rpa.example.com/admin/executionlogs/executionlog/42/change/"


def test_unknown_events_are_refused(make_task):
    with pytest.raises(ValueError):
        raise_alert(event="disk_full", task=make_task())
