"""Alert sources end to end through the real code paths, each raised once per change of state:
a failed execution report, the watchdog losing a running job, a START the relay refused (all via
job transitions), a schedule skipped (once per streak). A hanging channel never delays the
request that raised the alert."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountStatus
from alerts.messages import reason_labels
from alerts.models import Alert, Delivery
from jobs import scheduler
from tasks.models import TaskStatus

REPORT = "/api/v1/webhook/execution-complete"


def _report(client, task, status="failed", start="2026-01-21T14:30:00+08:00"):
    return client.post(
        REPORT,
        {"shadow_bot_account": task.account.shadow_bot_account, "app_name": task.app_name, "status": status,
         "start_time": start, "end_time": "2026-01-21T14:42:34+08:00",
         "result_summary": {"error_message": "element not found"}},
        format="json",
    )


@pytest.mark.django_db
def test_a_failed_execution_report_raises_job_failed_once(robot_client, make_task, make_channel):
    make_channel(events=["job_failed"])
    task = make_task()
    assert _report(robot_client, task).status_code == 200
    assert _report(robot_client, task).json()["duplicate"] is True  # the robot repeats its report
    assert _report(robot_client, task, status="completed", start="2026-01-21T14:35:00+08:00").status_code == 200
    alert = Alert.objects.get()
    assert (alert.event, alert.task_id, alert.context["reason"]) == ("job_failed", task.pk, "robot_reported_failure")
    assert alert.context["cause"] == "element not found"  # what the robot said went wrong
    assert f"reason: {reason_labels('robot_reported_failure')[1]} (element not found)" in alert.message
    assert Delivery.objects.filter(alert=alert).count() == 1


@pytest.mark.django_db
def test_a_robot_timeout_report_is_job_failed_with_its_reason(robot_client, make_task):
    task = make_task()
    _report(robot_client, task, status="timeout")
    assert Alert.objects.get().context["reason"] == "robot_reported_timeout"


@pytest.mark.django_db
def test_the_watchdog_losing_a_running_task_raises_robot_lost_once(settings, make_task, make_account):
    settings.RPA_HEARTBEAT_TIMEOUT = 600
    seen = timezone.now() - timedelta(minutes=11)
    task = make_task(account=make_account(status=AccountStatus.RUNNING), status=TaskStatus.RUNNING,
                     last_seen_at=seen, last_run_time=seen)
    scheduler.run_once()
    scheduler.run_once(now=timezone.now() + timedelta(hours=1))  # an hour later: still lost, no new alert
    alert = Alert.objects.get()
    assert (alert.event, alert.task_id, alert.severity) == ("robot_lost", task.pk, "critical")


@pytest.mark.django_db
def test_a_start_the_relay_refuses_raises_dispatch_failed(admin_client_api, make_task, fake_relay):
    fake_relay.status = 500
    task = make_task()
    assert admin_client_api.post(f"/api/v1/tasks/{task.pk}/start").status_code == 502
    alert = Alert.objects.get()
    # Raised by the job's transition (jobs.transitions.HOOKS): the job names the request it sent.
    assert alert.event == "dispatch_failed" and alert.context["reason"] == "dispatch_failed"
    assert alert.job_id == task.control_requests.get().job_id


@pytest.mark.django_db
def test_no_relay_configured_is_not_a_dispatch_failure(admin_client_api, make_task):
    assert admin_client_api.post(f"/api/v1/tasks/{make_task().pk}/start").status_code == 503
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_a_busy_scheduled_task_raises_schedule_skipped_once_per_streak(make_task, fake_relay):
    task = make_task(status=TaskStatus.RUNNING, schedule="* * * * *", schedule_timezone="UTC")
    now = timezone.now()
    for minute in range(4):  # four slots while the task keeps running
        task.refresh_from_db()
        scheduler.run_once(now=(task.next_run_at or now) + timedelta(seconds=1) if minute else now)
    assert task.control_requests.filter(outcome="skipped").count() >= 2
    assert Alert.objects.filter(event="schedule_skipped").count() == 1

    # It ran at a slot, then was busy again: a new streak, a new alert.
    task.refresh_from_db()
    task.status = TaskStatus.PENDING
    task.save(update_fields=["status"])
    scheduler.run_once(now=task.next_run_at + timedelta(seconds=1))
    task.refresh_from_db()
    task.status = TaskStatus.RUNNING
    task.save(update_fields=["status"])
    scheduler.run_once(now=task.next_run_at + timedelta(seconds=1))
    assert Alert.objects.filter(event="schedule_skipped").count() == 2


@pytest.mark.django_db
def test_a_hanging_channel_does_not_delay_the_request_that_raises_the_alert(
    settings, robot_client, make_task, make_channel, receiver
):
    hanging = receiver()
    hanging.delay = 5
    settings.RPA_ALERT_TIMEOUT = 10
    make_channel(target=hanging.url, events=["job_failed"])
    task = make_task()
    started = time.monotonic()
    assert _report(robot_client, task).status_code == 200
    assert time.monotonic() - started < 2
    assert hanging.requests == []  # the worker sends later, not the request
    assert Delivery.objects.get().status == "pending"


@pytest.mark.django_db
def test_a_dispatch_failed_alert_says_the_real_cause(settings, admin_client_api, make_task, make_channel):
    from rpa_workbench.testing.live_server import free_port

    settings.RPA_RELAY_URL = f"http://127.0.0.1:{free_port()}/yingdao"  # nothing listens: refused
    make_channel(events=["dispatch_failed"])
    task = make_task()
    assert admin_client_api.post(f"/api/v1/tasks/{task.pk}/start").status_code == 502
    alert = Alert.objects.get()
    assert alert.context["cause"] == "relay unreachable: connection refused"
    assert f"reason: {reason_labels('dispatch_failed')[1]} (relay unreachable: connection refused)" in alert.message
    assert "relay unreachable: connection refused" in Delivery.objects.get(alert=alert).message
