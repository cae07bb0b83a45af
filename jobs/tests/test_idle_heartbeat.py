"""The idle heartbeat (docs/api.md §5): `POST /webhook/heartbeat` with only `shadow_bot_account`
says "I am here and run nothing". It keeps a robot online without making it `running`, and ends
the jobs a restarted robot no longer runs (jobs/idle.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from executionlogs.models import ExecutionLog
from jobs.models import Job

pytestmark = pytest.mark.django_db

HEARTBEAT = "/api/v1/webhook/heartbeat"
CONFIRM = "/api/v1/webhook/confirm"


@pytest.fixture
def task(make_account, make_task):
    account = make_account(shadow_bot_account="bot_idle", host_ip="192.168.1.50")
    return make_task(account=account, app_name="daily_report", max_retries=1, retry_delay_seconds=0)


def idle(robot_client, name="bot_idle"):
    response = robot_client.post(HEARTBEAT, {"shadow_bot_account": name}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def confirm_start(robot_client, *, seconds_ago: float) -> Job:
    body = {"shadow_bot_account": "bot_idle", "app_name": "daily_report", "action": "START"}
    assert robot_client.post(CONFIRM, body, format="json").status_code == 200
    job = Job.objects.get(status="running")
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(seconds=seconds_ago))
    return job


def test_an_idle_heartbeat_needs_only_the_account_and_keeps_the_robot_online_not_running(robot_client, viewer_client, task):
    body = idle(robot_client)
    assert body["message"] == f"idle heartbeat recorded for {task.account.task_control}"
    account = Account.objects.get(pk=task.account_id)
    assert account.idle_heartbeat_at is not None and account.last_heartbeat_at is not None
    assert account.status == "pending"  # not "running": it runs nothing
    shown = viewer_client.get(f"/api/v1/accounts/{account.pk}").json()
    assert shown["presence"] == "online" and shown["idle_heartbeat_at"] is not None


def test_an_idle_heartbeat_from_an_unknown_robot_is_200_saying_so(robot_client):
    assert "no robot account named ghost" in idle(robot_client, "ghost")["message"]


def test_an_idle_heartbeat_ends_the_job_a_restarted_robot_forgot_and_retries_it(robot_client, task):
    job = confirm_start(robot_client, seconds_ago=60)
    idle(robot_client)
    job.refresh_from_db()
    assert (job.status, job.reason) == ("failed", "robot_restarted")
    assert "reported idle" in job.message
    log = ExecutionLog.objects.get(pk=job.execution_log_id)
    assert log.status == "failed" and log.result_summary["error_message"] == "robot restarted"
    retry = Job.objects.get(retry_of=job)
    assert (retry.status, retry.attempt, retry.source) == ("queued", 2, "retry")
    task.refresh_from_db()
    assert task.status != "running"
    assert Account.objects.get(pk=task.account_id).status == "failed"


def test_a_job_confirmed_within_the_grace_is_kept(robot_client, task):
    """An idle heartbeat sent just before the START arrived can be delivered just after the confirm."""
    job = confirm_start(robot_client, seconds_ago=2)
    idle(robot_client)
    job.refresh_from_db()
    assert job.status == "running"
    assert Account.objects.get(pk=task.account_id).status == "running"


def test_a_dispatched_job_is_left_to_its_confirm_timeout(robot_client, task, make_job):
    job = make_job(task, "dispatched", dispatched_at=timezone.now() - timedelta(seconds=60))
    idle(robot_client)
    job.refresh_from_db()
    assert job.status == "dispatched"


def test_a_stopping_job_ends_stopped(robot_client, task, make_job):
    job = make_job(task, "stopping", started_at=timezone.now() - timedelta(seconds=60))
    idle(robot_client)
    job.refresh_from_db()
    assert job.status == "stopped"


def test_another_robot_with_the_same_app_is_untouched(robot_client, task, make_account, make_task, make_job):
    other = make_task(account=make_account(shadow_bot_account="bot_busy"), app_name="daily_report")
    job = make_job(other, "running", started_at=timezone.now() - timedelta(seconds=60))
    idle(robot_client)
    job.refresh_from_db()
    assert job.status == "running"
