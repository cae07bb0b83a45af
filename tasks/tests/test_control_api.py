"""Start, stop, force-stop and the control audit through the REST API (API.md §2), against a
real local HTTP server standing in for the relay."""

from __future__ import annotations

import pytest

from accounts.models import AccountStatus
from tasks.models import ControlOutcome, ControlRequest, TaskStatus

pytestmark = pytest.mark.django_db


def url(task, action: str) -> str:
    return f"/api/v1/tasks/{task.pk}/{action}"


@pytest.fixture
def task(make_account, make_task):
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)
    return make_task(account, task_name="Daily report", app_name="daily_report")


def test_start_sends_start_to_the_relay_and_answers_pending(operator_client, operator_user, task, fake_relay):
    response = operator_client.post(url(task, "start"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == {
        "success": True,
        "message": "start request sent, waiting for robot confirmation",
        "task_id": str(task.pk),
        "status": "pending",
        "job_id": body["job_id"],  # API.md §2 (new): every start is a job
        "job_status": "dispatched",
    }
    [query] = fake_relay.queries
    assert {k: query[k] for k in ("backend_ip", "backend_port", "tak", "target")} == {
        "backend_ip": "192.168.1.100",
        "backend_port": "8000",
        "tak": "daily_report",
        "target": "START",
    }
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    audit = ControlRequest.objects.get()
    assert (audit.action, audit.source, audit.outcome, audit.requested_by) == (
        "start",
        "api",
        "sent",
        operator_user,
    )


def test_start_on_running_task_is_refused(operator_client, task, fake_relay):
    task.status = TaskStatus.RUNNING
    task.save()
    response = operator_client.post(url(task, "start"))
    assert response.status_code == 409
    assert response.json()["code"] == "TASK_ALREADY_RUNNING"
    assert fake_relay.requests == []


def test_second_start_before_confirmation_is_start_pending(operator_client, task, fake_relay):
    assert operator_client.post(url(task, "start")).status_code == 200
    response = operator_client.post(url(task, "start"))
    assert response.status_code == 409
    assert response.json()["code"] == "START_PENDING"
    assert len(fake_relay.requests) == 1


def test_stop_sends_target_all_and_leaves_status_to_the_robot(operator_client, task, fake_relay):
    task.status = TaskStatus.RUNNING
    task.save()
    response = operator_client.post(url(task, "stop"))
    assert response.status_code == 200
    assert response.json()["message"] == "stop request sent, waiting for robot confirmation"
    assert response.json()["status"] == "running"
    assert fake_relay.queries[0]["target"] == "ALL"


@pytest.mark.parametrize("action", ["stop", "force-stop?force=true"])
def test_stop_on_a_task_that_is_not_running_is_409(operator_client, task, fake_relay, action):
    response = operator_client.post(url(task, action))
    assert response.status_code == 409
    assert response.json()["code"] == "TASK_NOT_RUNNING"
    assert fake_relay.requests == []


def test_relay_error_is_502_control_request_failed_with_state_unchanged(operator_client, task, fake_relay):
    fake_relay.status = 500
    response = operator_client.post(url(task, "start"))
    assert response.status_code == 502
    error = response.json()
    assert error["code"] == "CONTROL_REQUEST_FAILED"
    assert "500" in error["message"]
    task.refresh_from_db()
    assert (task.status, task.start_requested_at) == (TaskStatus.PENDING, None)
    assert ControlRequest.objects.get().outcome == ControlOutcome.FAILED
    fake_relay.status = 200
    assert operator_client.post(url(task, "start")).status_code == 200  # the claim was released


def test_without_a_relay_url_control_says_so(operator_client, task, settings):
    settings.RPA_RELAY_URL = ""
    response = operator_client.post(url(task, "start"))
    assert response.status_code == 503
    assert response.json()["code"] == "RELAY_NOT_CONFIGURED"
    assert "RPA_RELAY_URL" in response.json()["message"]


def test_force_stop_marks_task_and_account_pending_at_once(operator_client, task, fake_relay):
    task.status = TaskStatus.RUNNING
    task.save()
    task.account.status = AccountStatus.RUNNING
    task.account.save()
    response = operator_client.post(url(task, "force-stop?force=true"))
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    task.refresh_from_db()
    task.account.refresh_from_db()
    assert (task.status, task.account.status) == ("pending", "pending")
    assert fake_relay.queries[0]["target"] == "ALL"


def test_force_stop_with_the_relay_down_still_stops(operator_client, task, settings):
    settings.RPA_RELAY_URL = "http://127.0.0.1:9/yingdao"  # discard port: connection refused
    task.status = TaskStatus.RUNNING
    task.save()
    response = operator_client.post(url(task, "force-stop?force=true"))
    assert response.status_code == 200
    assert "failed" in response.json()["message"]
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert ControlRequest.objects.get().outcome == ControlOutcome.FAILED


def test_force_stop_needs_force_true(operator_client, task, fake_relay):
    task.status = TaskStatus.RUNNING
    task.save()
    response = operator_client.post(url(task, "force-stop"))
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING


def test_viewer_cannot_control(viewer_client, task, fake_relay):
    for action in ("start", "stop", "force-stop?force=true"):
        assert viewer_client.post(url(task, action)).status_code == 403
    assert fake_relay.requests == []
    assert not ControlRequest.objects.exists()


def test_anonymous_control_is_401(anon_client, task, fake_relay):
    assert anon_client.post(url(task, "start")).status_code == 401
    assert fake_relay.requests == []


def test_control_requests_lists_the_audit_newest_first_paginated(
    operator_client, operator_user, viewer_client, task, fake_relay
):
    operator_client.post(url(task, "start"))
    operator_client.post(url(task, "start"))  # refused: START_PENDING, still audited
    response = viewer_client.get(url(task, "control-requests") + "?page_size=1")
    assert response.status_code == 200
    data = response.json()
    assert (data["total"], data["total_pages"]) == (2, 2)
    newest = data["items"][0]
    assert newest["outcome"] == "skipped"
    assert "START_PENDING" in newest["error"]
    older = viewer_client.get(url(task, "control-requests") + "?page=2&page_size=1").json()["items"][0]
    assert older["outcome"] == "sent"
    assert older["response_status"] == 200
    assert older["requested_by"] == operator_user.username
    assert older["relay_url"].startswith("http://127.0.0.1:")
    assert "tak=daily_report" in older["relay_url"]
    assert older["latency_ms"] is not None


def test_control_requests_survive_deleting_the_task(operator_client, task, fake_relay):
    operator_client.post(url(task, "start"))
    assert operator_client.delete(f"/api/v1/tasks/{task.pk}").status_code == 200
    audit = ControlRequest.objects.get()
    assert audit.task is None
    assert (audit.shadow_bot_account, audit.host_ip, audit.port, audit.app_name) == (
        "bot_01",
        "192.168.1.100",
        8000,
        "daily_report",
    )
