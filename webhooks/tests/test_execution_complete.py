"""API.md §5 `POST /api/v1/webhook/execution-complete`: validation, transitions, time zones,
idempotency and all-or-nothing writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import Account
from executionlogs.models import ExecutionLog
from tasks.models import Task

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook/execution-complete"


def body(**fields):
    data = {
        "shadow_bot_account": "bot_01",
        "app_name": "daily_report",
        "status": "completed",
        "start_time": "2026-01-21T14:30:00+08:00",
        "end_time": "2026-01-21T14:42:34+08:00",
        "duration_seconds": 754,
        "result_summary": {
            "total_items": 123,
            "success_items": 120,
            "failed_items": 3,
            "error_message": None,
        },
        "log_info": True,
        "screenshot": True,
        "screenshot_url": "https://bucket.oss-cn-shenzhen.aliyuncs.com/shots/1.png",
        "log_url": "https://bucket.oss-cn-shenzhen.aliyuncs.com/logs/1.txt",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not ...}


def post(client, **fields):
    return client.post(URL, body(**fields), format="json")


@pytest.fixture
def running_task(make_account, make_task):
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", status="running")
    return make_task(account=account, app_name="daily_report", status="running")


# -- the happy path --------------------------------------------------------------------------
def test_records_the_log_and_answers_with_its_id(robot_client, running_task):
    response = post(robot_client)
    assert response.status_code == 200
    data = response.json()
    assert data["success"] is True
    assert data["message"]
    log = ExecutionLog.objects.get()
    assert data["log_id"] == str(log.pk)
    assert data["screenshot_url"] == "https://bucket.oss-cn-shenzhen.aliyuncs.com/shots/1.png"
    assert data["log_url"] == "https://bucket.oss-cn-shenzhen.aliyuncs.com/logs/1.txt"
    assert log.status == "completed"
    assert log.duration == 754
    assert log.host_ip == "192.168.1.100"  # copied from the matched account
    assert log.task_id == running_task.pk and log.account_id == running_task.account_id
    assert log.screenshot_path.endswith("/shots/1.png") and log.log_content.endswith("/logs/1.txt")
    assert log.result_summary["success_items"] == 120


def test_history_survives_deleting_the_task_and_the_account(robot_client, admin_client_api, running_task):
    log_id = post(robot_client).json()["log_id"]
    account = running_task.account
    Task.objects.filter(pk=running_task.pk).delete()
    Account.objects.filter(pk=account.pk).delete()
    item = admin_client_api.get(f"/api/v1/logs/{log_id}").json()
    assert (item["shadow_bot_account"], item["app_name"], item["host_ip"]) == (
        "bot_01",
        "daily_report",
        "192.168.1.100",
    )
    assert item["task_id"] is None and item["account_id"] is None


def test_text_summarises_status_and_result(robot_client, running_task):
    post(robot_client)
    text = ExecutionLog.objects.get().text
    assert text.startswith("Ran daily_report: completed")
    assert "ok 120" in text and "failed 3" in text and "total 123" in text


def test_error_message_appears_in_text(robot_client, running_task):
    post(robot_client, status="failed", result_summary={"failed_items": 1, "error_message": "login expired"})
    assert "error: login expired" in ExecutionLog.objects.get().text


def test_completion_sets_account_and_puts_task_back_to_pending(robot_client, running_task):
    post(robot_client)
    task = Task.objects.get(pk=running_task.pk)
    account = Account.objects.get(pk=running_task.account_id)
    assert task.status == "pending"
    assert task.last_run_time == datetime(2026, 1, 21, 6, 30, tzinfo=UTC)
    assert account.status == "completed"
    assert account.recent_app == "daily_report"
    assert account.end_time == datetime(2026, 1, 21, 6, 42, 34, tzinfo=UTC)


def test_failed_execution_marks_account_failed(robot_client, running_task):
    post(robot_client, status="failed")
    assert ExecutionLog.objects.get().status == "failed"
    assert Account.objects.get(pk=running_task.account_id).status == "failed"


def test_timeout_is_recorded_as_failed_and_said_in_text(robot_client, running_task):
    assert post(robot_client, status="timeout").status_code == 200
    log = ExecutionLog.objects.get()
    assert log.status == "failed"
    assert "timeout" in log.text
    assert Account.objects.get(pk=running_task.account_id).status == "failed"


def test_status_is_case_insensitive(robot_client, running_task):
    assert post(robot_client, status="COMPLETED").status_code == 200
    assert ExecutionLog.objects.get().status == "completed"


def test_app_name_matches_the_task_case_insensitively(robot_client, running_task):
    post(robot_client, app_name="Daily_Report")
    assert Task.objects.get(pk=running_task.pk).status == "pending"


def test_duration_is_derived_from_the_times_when_not_sent(robot_client, running_task):
    post(robot_client, duration_seconds=...)
    assert ExecutionLog.objects.get().duration == 754.0


def test_minimal_body_is_enough(robot_client, running_task):
    minimal = {
        "shadow_bot_account": "bot_01",
        "app_name": "daily_report",
        "status": "completed",
        "start_time": "2026-01-21 14:30:00",
    }
    response = robot_client.post(URL, minimal, format="json")
    assert response.status_code == 200
    log = ExecutionLog.objects.get()
    assert log.end_time is None and log.duration is None
    assert log.log_info is False and log.screenshot is False
    assert response.json()["screenshot_url"] is None


def test_unknown_account_is_still_recorded_and_flagged(robot_client):
    response = post(robot_client, shadow_bot_account="ghost")
    assert response.status_code == 200
    log = ExecutionLog.objects.get()
    assert log.account_id is None and log.task_id is None
    assert "unknown account ghost" in log.text
    assert log.shadow_bot_account == "ghost"


def test_known_account_without_the_task_still_updates_the_account(robot_client, make_account):
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.7")
    post(robot_client, app_name="adhoc_app")
    log = ExecutionLog.objects.get()
    assert log.account_id == account.pk and log.task_id is None
    assert "no task matched" in log.text
    account.refresh_from_db()
    assert account.status == "completed" and account.recent_app == "adhoc_app"


def test_host_ip_narrows_the_match_when_one_name_is_on_several_hosts(robot_client, make_account, make_task):
    first = make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1"),
        app_name="daily_report",
        status="running",
    )
    second = make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="10.0.0.2"),
        app_name="daily_report",
        status="running",
    )
    post(robot_client, host_ip="10.0.0.2")
    assert Task.objects.get(pk=second.pk).status == "pending"
    assert Task.objects.get(pk=first.pk).status == "running"
    assert ExecutionLog.objects.get().host_ip == "10.0.0.2"


def test_without_host_ip_the_running_task_is_chosen(robot_client, make_account, make_task):
    idle = make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1"), app_name="daily_report"
    )
    busy = make_task(
        account=make_account(shadow_bot_account="bot_01", host_ip="10.0.0.2"),
        app_name="daily_report",
        status="running",
    )
    post(robot_client)
    log = ExecutionLog.objects.get()
    assert log.task_id == busy.pk
    assert log.task_id != idle.pk


# -- time zones ------------------------------------------------------------------------------
def test_naive_times_are_read_in_the_robot_time_zone(robot_client, running_task):
    post(robot_client, start_time="2026-01-21 14:30:00", end_time="2026-01-21 14:42:34")
    log = ExecutionLog.objects.get()
    assert log.start_time == datetime(2026, 1, 21, 6, 30, tzinfo=UTC)
    assert log.end_time == datetime(2026, 1, 21, 6, 42, 34, tzinfo=UTC)


def test_robot_time_zone_is_configurable(settings, robot_client, running_task):
    settings.RPA_ROBOT_TIMEZONE = "Europe/Berlin"
    post(robot_client, start_time="2026-01-21 14:30:00", end_time="2026-01-21 14:42:34")
    assert ExecutionLog.objects.get().start_time == datetime(2026, 1, 21, 13, 30, tzinfo=UTC)


def test_times_with_an_offset_keep_their_instant(settings, robot_client, running_task):
    settings.RPA_ROBOT_TIMEZONE = "America/New_York"
    post(robot_client, start_time="2026-01-21T06:30:00Z", end_time="2026-01-21T07:00:00-05:00")
    log = ExecutionLog.objects.get()
    assert log.start_time == datetime(2026, 1, 21, 6, 30, tzinfo=UTC)
    assert log.end_time == datetime(2026, 1, 21, 12, 0, tzinfo=UTC)


def test_stored_times_are_aware_and_output_with_an_offset(robot_client, admin_client_api, running_task):
    log_id = post(robot_client, start_time="2026-01-21 14:30:00", end_time=...).json()["log_id"]
    assert ExecutionLog.objects.get().start_time.tzinfo is not None
    start = admin_client_api.get(f"/api/v1/logs/{log_id}").json()["start_time"]
    assert start == "2026-01-21T14:30:00+08:00"


# -- validation: 400 naming the field, nothing written -------------------------------------
@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"status": "exploded"}, "status"),
        ({"status": ""}, "status"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"start_time": "2026-13-45 99:00:00"}, "start_time"),
        ({"start_time": None}, "start_time"),
        ({"start_time": ...}, "start_time"),
        ({"end_time": "not a time"}, "end_time"),
        ({"end_time": "2026-01-21T14:00:00+08:00"}, "end_time"),  # before start_time
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"duration_seconds": "abc"}, "duration_seconds"),
        ({"shadow_bot_account": "x" * 101}, "shadow_bot_account"),
        ({"shadow_bot_account": ...}, "shadow_bot_account"),
        ({"app_name": "a" * 201}, "app_name"),
        ({"app_name": ""}, "app_name"),
        ({"screenshot_url": "https://x/" + "s" * 1000}, "screenshot_url"),
        ({"log_url": "https://x/" + "l" * 1000}, "log_url"),
        ({"execution_id": "e" * 101}, "execution_id"),
        ({"host_ip": "not-an-ip"}, "host_ip"),
        ({"result_summary": "lots"}, "result_summary"),
        ({"result_summary": {"failed_items": -2}}, "result_summary.failed_items"),
        ({"log_info": "maybe"}, "log_info"),
    ],
)
def test_invalid_input_is_400_naming_the_field(robot_client, running_task, fields, field_name):
    response = post(robot_client, **fields)
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "VALIDATION_ERROR"
    assert data["message"].startswith(f"{field_name}:"), data["message"]
    assert not ExecutionLog.objects.exists()
    assert Task.objects.get(pk=running_task.pk).status == "running"


def test_malformed_json_is_400_not_500(robot_client):
    response = robot_client.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_json_list_is_400(robot_client):
    assert robot_client.post(URL, [body()], format="json").status_code == 400


# -- idempotency -----------------------------------------------------------------------------
def test_repeat_delivery_returns_the_original_log_and_writes_nothing(robot_client, running_task):
    first = post(robot_client).json()
    Task.objects.filter(pk=running_task.pk).update(status="running")  # a new run has started since
    Account.objects.filter(pk=running_task.account_id).update(status="running")
    again = post(robot_client, status="failed")
    assert again.status_code == 200
    assert again.json()["log_id"] == first["log_id"]
    assert again.json()["duplicate"] is True
    assert ExecutionLog.objects.count() == 1
    assert ExecutionLog.objects.get().status == "completed"
    assert Task.objects.get(pk=running_task.pk).status == "running"
    assert Account.objects.get(pk=running_task.account_id).status == "running"


def test_same_instant_in_another_notation_is_the_same_execution(robot_client, running_task):
    first = post(robot_client, start_time="2026-01-21T14:30:00+08:00").json()["log_id"]
    again = post(robot_client, start_time="2026-01-21 14:30:00").json()["log_id"]
    assert first == again
    assert ExecutionLog.objects.count() == 1


def test_same_execution_id_is_the_same_execution_even_with_other_times(robot_client, running_task):
    first = post(robot_client, execution_id="run-42").json()["log_id"]
    again = post(robot_client, execution_id="run-42", start_time="2026-01-21T15:00:00+08:00", end_time=...)
    assert again.json()["log_id"] == first
    assert ExecutionLog.objects.count() == 1


def test_different_start_times_are_different_executions(robot_client, running_task):
    post(robot_client)
    post(robot_client, start_time="2026-01-21T15:30:00+08:00", end_time="2026-01-21T15:40:00+08:00")
    assert ExecutionLog.objects.count() == 2


# -- all or nothing --------------------------------------------------------------------------
def test_failure_halfway_leaves_nothing_written(robot_client, running_task, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Account, "save", broken_save)
    response = post(robot_client)
    assert response.status_code == 500
    assert response.json() == {"code": "INTERNAL_ERROR", "message": "internal server error"}
    assert not ExecutionLog.objects.exists()
    assert Task.objects.get(pk=running_task.pk).status == "running"


def test_failure_in_the_task_update_rolls_back_log_and_account(robot_client, running_task, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("lost connection")

    monkeypatch.setattr(Task, "save", broken_save)
    assert post(robot_client).status_code == 500
    assert not ExecutionLog.objects.exists()
    assert Account.objects.get(pk=running_task.account_id).status == "running"


# -- events ----------------------------------------------------------------------------------
def test_events_are_published_after_commit(
    robot_client, running_task, published_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log_id = post(robot_client).json()["log_id"]
    kinds = {}
    for event_type, data in published_events:  # the first of each (a presence flip follows: test_presence)
        kinds.setdefault(event_type, data)
    assert kinds["log_created"]["log_id"] == log_id
    assert kinds["log_created"]["status"] == "completed"
    assert kinds["account_updated"]["changes"]["status"] == "completed"
    assert kinds["task_updated"]["changes"] == {
        "status": "pending",
        "last_run_time": "2026-01-21T14:30:00+08:00",  # as the REST API writes it (rpa_workbench/timefmt.py)
    }


def test_repeat_delivery_publishes_nothing(
    robot_client, running_task, published_events, django_capture_on_commit_callbacks
):
    post(robot_client)
    with django_capture_on_commit_callbacks(execute=True):
        post(robot_client)
    assert published_events == []


def test_failed_delivery_publishes_nothing(
    robot_client, running_task, published_events, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(Task, "save", lambda self, *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with django_capture_on_commit_callbacks(execute=True):
        assert post(robot_client).status_code == 500
    assert published_events == []
