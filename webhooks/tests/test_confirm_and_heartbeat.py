"""API.md §5 `/webhook/confirm` and `/webhook/heartbeat`: thin views over jobs.reports."""

from __future__ import annotations

import pytest

from accounts.models import Account
from tasks.models import ControlAction, ControlOutcome, ControlRequest, ControlSource, Task

pytestmark = pytest.mark.django_db

CONFIRM = "/api/v1/webhook/confirm"
HEARTBEAT = "/api/v1/webhook/heartbeat"


@pytest.fixture
def task(make_account, make_task):
    return make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100"), app_name="daily_report"
    )


def confirm(client, action="START", **fields):
    body = {"shadow_bot_account": "bot_01", "app_name": "daily_report", "action": action, **fields}
    return client.post(CONFIRM, body, format="json")


# -- confirm ---------------------------------------------------------------------------------
def test_confirm_start_runs_task_and_account(robot_client, task):
    response = confirm(robot_client)
    assert response.status_code == 200
    data = response.json()
    assert data["success"] is True and data["message"]
    assert data["task_id"] == str(task.pk)
    task.refresh_from_db()
    assert task.status == "running"
    assert task.last_run_time is not None
    assert Account.objects.get(pk=task.account_id).status == "running"


def test_confirm_stop_puts_task_and_account_back_to_pending(robot_client, task):
    confirm(robot_client, "START")
    assert confirm(robot_client, "STOP").status_code == 200
    task.refresh_from_db()
    assert task.status == "pending"
    assert Account.objects.get(pk=task.account_id).status == "pending"


def test_confirm_app_name_is_case_insensitive(robot_client, task):
    confirm(robot_client, app_name="DAILY_REPORT")
    assert Task.objects.get(pk=task.pk).status == "running"


def test_confirm_records_confirmed_at_on_the_latest_open_control_request(robot_client, task):
    def request(**extra):
        return ControlRequest.objects.create(
            task=task,
            action=ControlAction.START,
            source=ControlSource.API,
            outcome=ControlOutcome.SENT,
            **extra,
        )

    older = request()
    latest = request()
    confirm(robot_client)
    latest.refresh_from_db()
    older.refresh_from_db()
    assert latest.confirmed_at is not None
    assert older.confirmed_at is None


def test_confirm_skips_later_requests_that_are_closed_or_for_the_other_action(robot_client, task):
    def request(action=ControlAction.START, outcome=ControlOutcome.SENT, **extra):
        return ControlRequest.objects.create(
            task=task, action=action, source=ControlSource.API, outcome=outcome, **extra
        )

    open_start = request()
    request(outcome=ControlOutcome.FAILED)
    request(outcome=ControlOutcome.SKIPPED)
    already = request(confirmed_at="2026-01-01T00:00:00Z")
    stop = request(action=ControlAction.STOP)
    confirm(robot_client, action="START")
    assert ControlRequest.objects.get(pk=open_start.pk).confirmed_at is not None
    assert ControlRequest.objects.filter(confirmed_at__isnull=False).count() == 2  # + the old confirmed one
    assert ControlRequest.objects.get(pk=already.pk).confirmed_at.year == 2026
    assert ControlRequest.objects.get(pk=stop.pk).confirmed_at is None
    confirm(robot_client, action="STOP")
    assert ControlRequest.objects.get(pk=stop.pk).confirmed_at is not None


def test_confirm_host_ip_narrows_the_match(robot_client, make_account, make_task):
    first = make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1"), app_name="daily_report"
    )
    second = make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="10.0.0.2"), app_name="daily_report"
    )
    confirm(robot_client, host_ip="10.0.0.2")
    assert Task.objects.get(pk=second.pk).status == "running"
    assert Task.objects.get(pk=first.pk).status == "pending"


def test_confirm_without_a_matching_task_is_200_saying_so(robot_client, task):
    response = confirm(robot_client, app_name="unknown_app")
    assert response.status_code == 200
    data = response.json()
    assert data["success"] is True
    assert "no task matched" in data["message"]
    assert Task.objects.get(pk=task.pk).status == "pending"


@pytest.mark.parametrize("action", ["RESTART", "", "go", None])
def test_confirm_unknown_action_is_400(robot_client, task, action):
    response = confirm(robot_client, action)
    assert response.status_code == 400
    assert response.json()["message"].startswith("action:")
    assert Task.objects.get(pk=task.pk).status == "pending"


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"shadow_bot_account": "x" * 101}, "shadow_bot_account"),
        ({"app_name": "a" * 201}, "app_name"),
        ({"host_ip": "nope"}, "host_ip"),
    ],
)
def test_confirm_invalid_fields_are_400_naming_the_field(robot_client, task, fields, field_name):
    response = confirm(robot_client, **fields)
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field_name}:")


def test_lowercase_action_is_accepted(robot_client, task):
    assert confirm(robot_client, "start").status_code == 200
    assert Task.objects.get(pk=task.pk).status == "running"


# -- heartbeat -------------------------------------------------------------------------------
def test_heartbeat_body_marks_account_running(robot_client, task):
    response = robot_client.post(
        HEARTBEAT, {"shadow_bot_account": "bot_01", "app_name": "invoice_sync"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["success"] is True
    account = Account.objects.get(pk=task.account_id)
    assert account.status == "running"
    assert account.recent_app == "invoice_sync"
    assert account.last_heartbeat_at is not None


def test_heartbeat_accepts_query_parameters(robot_client, task):
    response = robot_client.post(f"{HEARTBEAT}?shadow_bot_account=bot_01&app_name=daily_report")
    assert response.status_code == 200
    account = Account.objects.get(pk=task.account_id)
    assert account.status == "running" and account.last_heartbeat_at is not None


def test_heartbeat_from_an_unknown_account_is_200_saying_so(robot_client):
    response = robot_client.post(HEARTBEAT, {"shadow_bot_account": "ghost", "app_name": "x"}, format="json")
    assert response.status_code == 200
    assert "ghost" in response.json()["message"]


def test_heartbeat_without_account_is_400(robot_client):
    response = robot_client.post(HEARTBEAT, {"app_name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("shadow_bot_account:")


def test_heartbeat_over_long_name_is_400(robot_client):
    response = robot_client.post(f"{HEARTBEAT}?shadow_bot_account={'x' * 101}&app_name=a")
    assert response.status_code == 400
    assert response.json()["message"].startswith("shadow_bot_account:")
