"""Every change of the job and log lists moves the cached reads' key (issue 28): each writes its
event in its own transaction (rpa_workbench/list_cache.py). What changes nothing keeps it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import timeouts
from jobs.models import Job, JobStatus
from rpa_workbench.testing.reads import keeps_the_key, moves_the_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keyed_by_events_only")]

JOBS = "/api/v1/jobs"
REPORT = {
    "shadow_bot_account": "bot_01", "app_name": "daily_report", "status": "completed",
    "start_time": "2026-01-21T14:30:00+08:00", "end_time": "2026-01-21T14:42:34+08:00",
}


@pytest.fixture
def task(make_account, make_task):
    robot = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)
    return make_task(robot, app_name="daily_report")


def test_jobs_started_cancelled_stopped_and_retried_through_the_api(operator_client, viewer_client, task, make_task, fake_relay):
    with moves_the_key(viewer_client):
        dispatched = operator_client.post(JOBS, {"task_id": str(task.pk)}, format="json").json()
    with moves_the_key(viewer_client):
        other = make_task(task.account)
        queued = operator_client.post(JOBS, {"task_id": str(other.pk)}, format="json").json()
    assert (dispatched["status"], queued["status"]) == ("dispatched", "queued")
    with moves_the_key(viewer_client):
        assert operator_client.post(f"{JOBS}/{queued['id']}/cancel").status_code == 200
    with moves_the_key(viewer_client):
        assert operator_client.post(f"{JOBS}/{dispatched['id']}/stop?force=true").status_code == 200
    with moves_the_key(viewer_client):
        assert operator_client.post(f"{JOBS}/{dispatched['id']}/retry").status_code == 201
    with keeps_the_key(viewer_client):
        assert operator_client.post(f"{JOBS}/{queued['id']}/cancel").status_code == 409
        assert viewer_client.get(f"{JOBS}/{queued['id']}").status_code == 200


def test_a_robots_report_and_a_repeat_of_it(robot_client, viewer_client, task):
    with moves_the_key(viewer_client):
        assert robot_client.post("/api/v1/webhook/execution-complete", REPORT, format="json").status_code == 200
    assert viewer_client.get("/api/v1/logs").json()["total"] == 1 and viewer_client.get(JOBS).json()["total"] == 1
    with keeps_the_key(viewer_client):  # a repeat changes nothing listed (its contact time: the bucket)
        assert robot_client.post("/api/v1/webhook/execution-complete", REPORT, format="json").status_code == 200
    assert viewer_client.get("/api/v1/logs").json()["total"] == 1


def test_a_report_of_an_unknown_robot_still_adds_its_log(robot_client, viewer_client, task):
    with moves_the_key(viewer_client, ("/api/v1/logs",)):
        unknown = {**REPORT, "shadow_bot_account": "nobody"}
        assert robot_client.post("/api/v1/webhook/execution-complete", unknown, format="json").status_code == 200


def test_a_wait_timeout_ending_a_queued_job(operator_client, viewer_client, task, make_task, fake_relay):
    operator_client.post(JOBS, {"task_id": str(task.pk)}, format="json")  # the robot is busy with it
    other = make_task(task.account)
    body = {"task_id": str(other.pk), "wait_timeout_seconds": 1}
    queued = operator_client.post(JOBS, body, format="json").json()
    assert Job.objects.get(pk=queued["id"]).status == JobStatus.QUEUED
    with moves_the_key(viewer_client):
        assert timeouts.wait_timeouts(timezone.now() + timedelta(minutes=5))
