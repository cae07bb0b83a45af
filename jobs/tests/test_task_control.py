"""The control state machine (API.md §2), called directly as the API, admin and scheduler do:
start/stop never change status, the robot's confirmation does; every 409; force-stop; the
audit trail of every path. The relay is a real local HTTP server."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import AccountStatus
from jobs import reports, task_control
from rpa_workbench.errors import ApiError
from tasks.models import ControlAction, ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(make_account, make_task) -> Task:
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)
    return make_task(account, task_name="Daily report", app_name="daily_report")


@pytest.fixture
def running_task(task) -> Task:
    task.status = TaskStatus.RUNNING
    task.save()
    task.account.status = AccountStatus.RUNNING
    task.account.save()
    return task


def reload(task: Task) -> Task:
    return Task.objects.select_related("account").get(pk=task.pk)


def refused(call, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(**kwargs)
    return caught.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- start / stop do not change state ---------------------------------------------------------
def test_start_sends_start_and_leaves_task_and_account_pending(task, operator_user, fake_relay):
    request = task_control.start_task(task=task, source=ControlSource.API, user=operator_user)

    [query] = fake_relay.queries
    assert (query["backend_ip"], query["backend_port"], query["tak"], query["target"]) == (
        "192.168.1.100",
        "8000",
        "daily_report",
        "START",
    )
    current = reload(task)
    assert (current.status, current.account.status, current.last_run_time) == ("pending", "pending", None)
    assert current.start_requested_at is not None  # the START_PENDING claim
    assert (request.action, request.target, request.outcome, request.response_status) == (
        ControlAction.START,
        "START",
        ControlOutcome.SENT,
        200,
    )
    assert request.confirmed_at is None


def test_stop_sends_all_and_leaves_task_and_account_running(running_task, admin_user, fake_relay):
    request = task_control.stop_task(task=running_task, source=ControlSource.ADMIN, user=admin_user)

    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    current = reload(running_task)
    assert (current.status, current.account.status) == ("running", "running")
    assert (request.action, request.target, request.outcome) == (
        ControlAction.STOP,
        "ALL",
        ControlOutcome.SENT,
    )


def test_a_stale_instance_is_read_afresh_before_deciding(task, fake_relay):
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.RUNNING)  # task.status still says pending
    assert (
        refused(task_control.start_task, task=task, source=ControlSource.API).error_code == "TASK_ALREADY_RUNNING"
    )
    task_control.stop_task(task=task, source=ControlSource.API)
    assert task.status == TaskStatus.RUNNING


# -- the robot confirms -------------------------------------------------------------------------
def test_confirm_start_marks_task_and_account_running(task, fake_relay):
    request = task_control.start_task(task=task, source=ControlSource.API)

    confirmed = reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="START")

    current = reload(task)
    assert confirmed.pk == task.pk
    assert (current.status, current.account.status, current.account.recent_app) == (
        "running",
        "running",
        "daily_report",
    )
    assert current.last_run_time is not None and current.start_requested_at is None
    request.refresh_from_db()
    assert request.confirmed_at is not None


def test_confirm_marks_only_the_latest_open_request(task, fake_relay, settings):
    first = task_control.start_task(task=task, source=ControlSource.API)
    Task.objects.filter(pk=task.pk).update(
        start_requested_at=timezone.now() - timedelta(seconds=settings.RPA_START_PENDING_SECONDS + 1)
    )
    second = task_control.start_task(task=task, source=ControlSource.SCHEDULER)

    reports.confirm(
        shadow_bot_account="bot_01", app_name="DAILY_REPORT", action="START", host_ip="192.168.1.100"
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.confirmed_at, second.confirmed_at is not None) == (None, True)


def test_confirm_stop_marks_task_and_account_pending(running_task, fake_relay):
    request = task_control.stop_task(task=running_task, source=ControlSource.API)

    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="STOP")

    current = reload(running_task)
    assert (current.status, current.account.status) == ("pending", "pending")
    request.refresh_from_db()
    assert request.confirmed_at is not None


def test_confirm_for_an_unknown_robot_changes_nothing(task):
    assert reports.confirm(shadow_bot_account="bot_99", app_name="daily_report", action="START") is None
    assert (
        reports.confirm(
            shadow_bot_account="bot_01", app_name="daily_report", action="START", host_ip="10.9.9.9"
        )
        is None
    )
    assert reload(task).status == TaskStatus.PENDING


def test_confirm_with_an_unknown_action_is_400(task):
    error = refused(reports.confirm, shadow_bot_account="bot_01", app_name="daily_report", action="PAUSE")
    assert (error.status_code, error.error_code) == (400, "VALIDATION_ERROR")


# -- every 409 ----------------------------------------------------------------------------------
def test_start_on_a_running_task_is_task_already_running(running_task, operator_user, fake_relay):
    error = refused(task_control.start_task, task=running_task, source=ControlSource.API, user=operator_user)

    assert (error.status_code, error.error_code) == (409, "TASK_ALREADY_RUNNING")
    assert fake_relay.requests == []
    audit = ControlRequest.objects.get()
    assert (audit.action, audit.outcome, audit.requested_by) == ("start", "skipped", operator_user)
    assert audit.error.startswith("TASK_ALREADY_RUNNING")


@pytest.mark.parametrize(
    ("call", "action"),
    [(task_control.stop_task, ControlAction.STOP), (task_control.force_stop_task, ControlAction.FORCE_STOP)],
)
def test_stop_and_force_stop_on_a_pending_task_are_task_not_running(
    task, admin_user, fake_relay, call, action
):
    error = refused(call, task=task, source=ControlSource.ADMIN, user=admin_user)

    assert (error.status_code, error.error_code) == (409, "TASK_NOT_RUNNING")
    assert fake_relay.requests == []
    audit = ControlRequest.objects.get()
    assert (audit.action, audit.source, audit.outcome) == (action, "admin", "skipped")
    assert audit.error.startswith("TASK_NOT_RUNNING")
    assert reload(task).account.status == AccountStatus.PENDING


def test_a_second_start_before_confirmation_is_start_pending_and_sends_nothing(task, fake_relay):
    task_control.start_task(task=task, source=ControlSource.API)

    error = refused(task_control.start_task, task=task, source=ControlSource.SCHEDULER)

    assert (error.status_code, error.error_code) == (409, "START_PENDING")
    assert len(fake_relay.requests) == 1
    outcomes = sorted(ControlRequest.objects.values_list("source", "outcome"))
    assert outcomes == [("api", "sent"), ("scheduler", "skipped")]


def test_after_the_pending_window_a_start_goes_out_again(task, fake_relay, settings):
    settings.RPA_START_PENDING_SECONDS = 30
    task_control.start_task(task=task, source=ControlSource.API)
    Task.objects.filter(pk=task.pk).update(start_requested_at=timezone.now() - timedelta(seconds=31))

    task_control.start_task(task=task, source=ControlSource.API)

    assert len(fake_relay.requests) == 2


def test_a_zero_pending_window_never_refuses_a_repeated_start(task, fake_relay, settings):
    settings.RPA_START_PENDING_SECONDS = 0
    task_control.start_task(task=task, source=ControlSource.API)
    task_control.start_task(task=task, source=ControlSource.API)
    assert len(fake_relay.requests) == 2


def test_after_a_confirmed_run_stops_the_next_start_goes_out_at_once(task, fake_relay):
    task_control.start_task(task=task, source=ControlSource.API)
    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="START")
    task_control.stop_task(task=task, source=ControlSource.API)
    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="STOP")

    task_control.start_task(task=task, source=ControlSource.API)

    assert [q["target"] for q in fake_relay.queries] == ["START", "ALL", "START"]


# -- relay not configured -------------------------------------------------------------------------
@pytest.mark.parametrize("running", [False, True])
def test_without_a_relay_start_and_stop_are_503_and_recorded(task, running, settings):
    settings.RPA_RELAY_URL = ""
    if running:
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.RUNNING)
    call = task_control.stop_task if running else task_control.start_task

    error = refused(call, task=task, source=ControlSource.API)

    assert (error.status_code, error.error_code) == (503, "RELAY_NOT_CONFIGURED")
    assert "RPA_RELAY_URL" in error.message
    audit = ControlRequest.objects.get()
    assert (audit.outcome, audit.task_id) == (ControlOutcome.SKIPPED, task.pk)
    assert "RELAY_NOT_CONFIGURED" in audit.error
    assert reload(task).start_requested_at is None


# -- force-stop ----------------------------------------------------------------------------------
def test_force_stop_marks_task_and_account_pending_and_sends_the_stop(
    running_task, operator_user, fake_relay
):
    request = task_control.force_stop_task(task=running_task, source=ControlSource.API, user=operator_user)

    current = reload(running_task)
    assert (current.status, current.account.status) == ("pending", "pending")
    assert (running_task.status, running_task.account.status) == (
        "pending",
        "pending",
    )  # caller's instance too
    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    assert (request.action, request.outcome, request.response_status) == ("force_stop", "sent", 200)
    body = task_control.control_response(running_task, request)
    assert body["status"] == "pending" and body["success"] is True
    assert "stop request sent" in body["message"]


def test_force_stop_with_the_relay_down_still_stops(running_task, operator_user, settings):
    settings.RPA_RELAY_URL = f"http://127.0.0.1:{closed_port()}/yingdao"

    request = task_control.force_stop_task(task=running_task, source=ControlSource.API, user=operator_user)

    current = reload(running_task)
    assert (current.status, current.account.status) == ("pending", "pending")
    request.refresh_from_db()
    assert (request.action, request.outcome, request.requested_by) == ("force_stop", "failed", operator_user)
    assert "connection refused" in request.error and request.latency_ms is not None
    body = task_control.control_response(current, request)
    assert body["success"] is True and "failed" in body["message"]


def test_force_stop_with_a_relay_error_status_still_stops(running_task, fake_relay):
    fake_relay.status = 500
    request = task_control.force_stop_task(task=running_task, source=ControlSource.SCHEDULER)
    assert reload(running_task).status == TaskStatus.PENDING
    assert (request.outcome, request.response_status) == ("failed", 500)


def test_force_stop_without_a_relay_still_stops_and_records_why(running_task, settings):
    settings.RPA_RELAY_URL = ""
    request = task_control.force_stop_task(task=running_task, source=ControlSource.ADMIN)
    assert reload(running_task).status == TaskStatus.PENDING
    assert request.outcome == ControlOutcome.FAILED and "RPA_RELAY_URL" in request.error


def test_force_stop_clears_an_unconfirmed_start_claim(running_task, fake_relay):
    Task.objects.filter(pk=running_task.pk).update(start_requested_at=timezone.now())
    task_control.force_stop_task(task=running_task, source=ControlSource.API)
    assert reload(running_task).start_requested_at is None
    task_control.start_task(task=running_task, source=ControlSource.API)  # not START_PENDING


# -- the audit trail ------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [ControlSource.API, ControlSource.ADMIN, ControlSource.SCHEDULER])
def test_every_request_records_source_user_and_a_snapshot_of_its_target(
    task, operator_user, fake_relay, source
):
    user = None if source == ControlSource.SCHEDULER else operator_user

    task_control.start_task(task=task, source=source, user=user)

    audit = ControlRequest.objects.get()
    assert (audit.task_id, audit.source, audit.requested_by) == (task.pk, source, user)
    assert (audit.shadow_bot_account, audit.host_ip, audit.port, audit.app_name) == (
        "bot_01",
        "192.168.1.100",
        8000,
        "daily_report",
    )
    assert audit.relay_url.startswith(fake_relay.url + "?") and "tak=daily_report" in audit.relay_url
    assert (audit.response_status, audit.error) == (200, "")
    assert audit.latency_ms is not None and audit.created_at is not None


def test_an_anonymous_user_is_recorded_as_nobody(task, fake_relay):
    task_control.start_task(task=task, source=ControlSource.API, user=AnonymousUser())
    assert ControlRequest.objects.get().requested_by is None


def test_every_path_leaves_one_row(running_task, fake_relay):
    task_control.stop_task(task=running_task, source=ControlSource.API)  # sent
    task_control.force_stop_task(task=running_task, source=ControlSource.API)  # sent, now pending
    with pytest.raises(ApiError):
        task_control.stop_task(task=running_task, source=ControlSource.API)  # skipped
    task_control.start_task(task=running_task, source=ControlSource.API)  # sent
    with pytest.raises(ApiError):
        task_control.start_task(task=running_task, source=ControlSource.API)  # skipped: START_PENDING

    rows = list(ControlRequest.objects.order_by("created_at").values_list("action", "outcome"))
    assert rows == [
        ("stop", "sent"),
        ("force_stop", "sent"),
        ("stop", "skipped"),
        ("start", "sent"),
        ("start", "skipped"),
    ]
    assert len(fake_relay.requests) == 3


def test_a_control_request_survives_deleting_its_task(task, fake_relay):
    request = task_control.start_task(task=task, source=ControlSource.API)
    Task.objects.filter(pk=task.pk).delete()

    request.refresh_from_db()
    assert request.task is None
    assert (request.shadow_bot_account, request.host_ip, request.port, request.app_name, request.outcome) == (
        "bot_01",
        "192.168.1.100",
        8000,
        "daily_report",
        "sent",
    )


def test_control_on_a_deleted_task_is_404(task, fake_relay):
    Task.objects.filter(pk=task.pk).delete()
    error = refused(task_control.start_task, task=task, source=ControlSource.API)
    assert (error.status_code, error.error_code) == (404, "NOT_FOUND")
    assert fake_relay.requests == []


def test_control_response_is_the_api_shape(task, fake_relay):
    request = task_control.start_task(task=task, source=ControlSource.API)
    assert task_control.control_response(task, request) == {
        "success": True,
        "message": "start request sent, waiting for robot confirmation",
        "task_id": str(task.pk),
        "status": "pending",
        "job_id": str(request.job_id),
        "job_status": "dispatched",
    }
