"""A relay that fails (error status, timeout, unreachable) makes start/stop a 502
CONTROL_REQUEST_FAILED with the reason, leaves the state as it was and records the failure —
within the timeout bound and without retrying a request that reached it. A START that certainly
did not arrive releases the claim (its job ends failed/dispatch_failed); one that may have arrived
(the relay read timed out) keeps it, so no second START goes out (issue 14 bug 3)."""

from __future__ import annotations

import socket
import time

import pytest

from accounts.models import AccountStatus
from jobs import reports, task_control
from rpa_workbench.errors import ApiError
from tasks.models import ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

pytestmark = pytest.mark.django_db

TIMEOUT = 0.3  # RPA_RELAY_TIMEOUT in these tests
SLOW = 3.0  # how long the slow relay sleeps before answering


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def task(make_account, make_task) -> Task:
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)
    return make_task(account, task_name="Daily report", app_name="daily_report")


@pytest.fixture(params=["error_status", "timeout", "unreachable"])
def broken_relay(request, fake_relay, settings):
    """The relay failing one way: (kind, the fake relay, words the reason must contain)."""
    settings.RPA_RELAY_TIMEOUT = TIMEOUT
    kind = request.param
    if kind == "error_status":
        fake_relay.status = 500
        fake_relay.body = b"internal relay error"
        reason = "HTTP 500"
    elif kind == "timeout":
        fake_relay.delay = SLOW
        reason = f"did not answer within {TIMEOUT:g}s"
    else:
        settings.RPA_RELAY_URL = f"http://127.0.0.1:{closed_port()}/yingdao"
        reason = "relay unreachable: connection refused"
    return kind, fake_relay, reason


def heal(fake_relay, settings) -> None:
    fake_relay.status, fake_relay.delay = 200, 0
    settings.RPA_RELAY_URL = fake_relay.url
    settings.RPA_RELAY_TIMEOUT = 10  # a healthy relay on a busy machine may take longer than 0.3 s


def fail(call, **kwargs) -> tuple[ApiError, float]:
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        call(**kwargs)
    return caught.value, time.monotonic() - started


def assert_failed_request_recorded(
    error: ApiError, reason: str, *, action: str, target: str
) -> ControlRequest:
    audit = ControlRequest.objects.get()
    assert error.extra["control_request_id"] == str(audit.pk)
    assert (audit.action, audit.target, audit.outcome) == (action, target, ControlOutcome.FAILED)
    assert reason in audit.error
    assert audit.latency_ms is not None
    assert audit.confirmed_at is None
    return audit


def test_a_failed_start_is_502_with_state_unchanged_and_the_claim_released(
    task, broken_relay, operator_user, settings
):
    kind, fake_relay, reason = broken_relay

    error, elapsed = fail(task_control.start_task, task=task, source=ControlSource.API, user=operator_user)

    assert (error.status_code, error.error_code) == (502, "CONTROL_REQUEST_FAILED")
    assert reason in error.message
    assert elapsed < SLOW  # the call came back at its own timeout, not when the relay answered
    current = Task.objects.select_related("account").get(pk=task.pk)
    assert (current.status, current.account.status, current.last_run_time) == ("pending", "pending", None)
    audit = assert_failed_request_recorded(error, reason, action="start", target="START")
    assert audit.requested_by == operator_user
    if kind == "error_status":
        assert audit.response_status == 500
    if kind != "unreachable":
        assert len(fake_relay.requests) == 1  # it reached the relay: never retried

    heal(fake_relay, settings)
    if kind == "timeout":
        # The START may have reached the robot: the claim stays, and no second START goes out.
        assert current.start_requested_at is not None
        assert audit.job.status == "dispatched"
        error, _ = fail(task_control.start_task, task=task, source=ControlSource.API)
        assert error.error_code == "START_PENDING"
        assert len(fake_relay.requests) == 1
        return
    assert current.start_requested_at is None and task.start_requested_at is None
    assert (audit.job.status, audit.job.reason) == ("failed", "dispatch_failed")
    task_control.start_task(task=task, source=ControlSource.API)  # the next start is allowed
    assert fake_relay.queries[-1]["target"] == "START"


def test_a_failed_stop_is_502_with_the_task_still_running(task, broken_relay):
    kind, fake_relay, reason = broken_relay
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.RUNNING)
    task.account.status = AccountStatus.RUNNING
    task.account.save()

    error, elapsed = fail(task_control.stop_task, task=task, source=ControlSource.ADMIN)

    assert (error.status_code, error.error_code) == (502, "CONTROL_REQUEST_FAILED")
    assert reason in error.message
    assert elapsed < SLOW
    current = Task.objects.select_related("account").get(pk=task.pk)
    assert (current.status, current.account.status) == ("running", "running")
    assert_failed_request_recorded(error, reason, action="stop", target="ALL")
    if kind != "unreachable":
        assert len(fake_relay.requests) == 1


def test_a_failed_start_is_not_confirmed_by_a_later_robot_start(task, fake_relay):
    fake_relay.status = 500
    with pytest.raises(ApiError):
        task_control.start_task(task=task, source=ControlSource.API)
    fake_relay.status = 200
    sent = task_control.start_task(task=task, source=ControlSource.API)

    reports.confirm(shadow_bot_account="bot_01", app_name="daily_report", action="START")

    confirmed = dict(ControlRequest.objects.values_list("outcome", "confirmed_at"))
    assert confirmed[ControlOutcome.FAILED] is None
    sent.refresh_from_db()
    assert sent.confirmed_at is not None


def test_a_failure_recorded_and_reported_without_the_relays_secrets(task, fake_relay, settings):
    settings.RPA_RELAY_URL = fake_relay.url.replace("http://", "http://relayuser:s3cret@") + "?key=topsecret"
    fake_relay.status = 500
    fake_relay.body = b"bad key topsecret for relayuser"  # a relay echoing what it was given

    error, _ = fail(task_control.start_task, task=task, source=ControlSource.API)

    audit = ControlRequest.objects.get()
    for text in (error.message, audit.error, audit.relay_url):
        assert "s3cret" not in text and "topsecret" not in text
    assert fake_relay.queries[0]["key"] == "topsecret"  # the relay itself got the key
    assert "key=***" in audit.relay_url


def test_a_malformed_relay_url_is_a_502_that_releases_the_claim(task, settings):
    settings.RPA_RELAY_URL = "http://127.0.0.1:notaport/yingdao"

    error, _ = fail(task_control.start_task, task=task, source=ControlSource.API)

    assert (error.status_code, error.error_code) == (502, "CONTROL_REQUEST_FAILED")
    assert "RPA_RELAY_URL" in error.message
    assert Task.objects.get(pk=task.pk).start_requested_at is None
    audit = ControlRequest.objects.get()
    assert audit.outcome == ControlOutcome.FAILED and "RPA_RELAY_URL" in audit.error
