"""`send_raw_control`: the intranet proxy's relay request (API.md §7) — checked input, audited and
linked to the task it is about. A START for a known task is a job (issue 14 bug 2: a double-click
sends one START and answers 409); anything else goes out raw, as given."""

from __future__ import annotations

import pytest

from jobs import task_control
from rpa_workbench.errors import ApiError
from tasks.models import ControlAction, ControlOutcome, ControlRequest, ControlSource, TaskStatus

pytestmark = pytest.mark.django_db


def raw(**overrides) -> ControlRequest:
    params = {
        "backend_ip": "192.168.1.100",
        "backend_port": "8000",
        "app_name": "daily_report",
        "target": "START",
    }
    return task_control.send_raw_control(**{**params, **overrides})


def refused(**overrides) -> ApiError:
    with pytest.raises(ApiError) as caught:
        raw(**overrides)
    return caught.value


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": "STOP"}, "target"),
        ({"target": "start"}, "target"),
        ({"target": ""}, "target"),
        ({"backend_port": "0"}, "backend_port"),
        ({"backend_port": "65536"}, "backend_port"),
        ({"backend_port": "80a"}, "backend_port"),
        ({"backend_port": ""}, "backend_port"),
        ({"backend_port": None}, "backend_port"),
        ({"backend_ip": ""}, "backend_ip"),
        ({"backend_ip": "not-an-ip"}, "backend_ip"),
        ({"backend_ip": "999.1.1.1"}, "backend_ip"),
        ({"backend_ip": "relay.example.com"}, "backend_ip"),
        ({"app_name": ""}, "tak"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_sends_nothing(fake_relay, overrides, field):
    error = refused(**overrides)
    assert (error.status_code, error.error_code) == (400, "VALIDATION_ERROR")
    assert error.message.startswith(f"{field}:")
    assert fake_relay.requests == []
    assert not ControlRequest.objects.exists()


def test_the_request_goes_out_as_given(fake_relay, operator_user):
    request = raw(
        backend_ip="10.1.2.3", backend_port=" 9548 ", app_name="other_app", target="ALL", user=operator_user
    )

    [query] = fake_relay.queries
    assert (query["backend_ip"], query["backend_port"], query["tak"], query["target"]) == (
        "10.1.2.3",
        "9548",
        "other_app",
        "ALL",
    )
    assert (request.action, request.target, request.source, request.outcome) == (
        ControlAction.STOP,
        "ALL",
        ControlSource.INTRANET,
        ControlOutcome.SENT,
    )
    assert (request.requested_by, request.response_status, request.task) == (operator_user, 200, None)
    assert (request.host_ip, request.port, request.app_name, request.shadow_bot_account) == (
        "10.1.2.3",
        9548,
        "other_app",
        "",
    )
    assert request.relay_url.startswith(fake_relay.url + "?")


def test_ipv6_hosts_are_accepted(fake_relay):
    raw(backend_ip="fd00::10")
    assert fake_relay.queries[0]["backend_ip"] == "fd00::10"


def test_a_start_of_a_running_known_task_is_409_and_sends_nothing(fake_relay, make_account, make_task):
    account = make_account(host_ip="192.168.1.100", port=8000)
    task = make_task(account, app_name="daily_report", status=TaskStatus.RUNNING)
    error = refused()
    assert (error.status_code, error.error_code, error.extra["success"]) == (409, "TASK_ALREADY_RUNNING", False)
    assert fake_relay.requests == []
    assert ControlRequest.objects.filter(task=task, outcome=ControlOutcome.SKIPPED).count() == 1


def test_a_raw_stop_of_an_idle_known_task_still_goes_out(fake_relay, make_account, make_task):
    task = make_task(make_account(host_ip="192.168.1.100", port=8000), app_name="daily_report")
    raw(target="ALL")
    raw(target="ALL")
    assert len(fake_relay.requests) == 2
    assert ControlRequest.objects.filter(task=task, outcome=ControlOutcome.SENT).count() == 2


def test_it_links_the_task_on_that_host_and_app_preferring_the_exact_port(
    fake_relay, make_account, make_task
):
    on_8000 = make_task(
        make_account(shadow_bot_account="bot_a", host_ip="192.168.1.100", port=8000), app_name="Daily_Report"
    )
    on_9000 = make_task(
        make_account(shadow_bot_account="bot_b", host_ip="192.168.1.100", port=9000), app_name="daily_report"
    )
    make_task(
        make_account(shadow_bot_account="bot_c", host_ip="192.168.1.200", port=9000), app_name="daily_report"
    )

    assert raw(backend_port="9000", target="ALL").task == on_9000
    exact = raw(backend_port="8000", target="ALL")
    assert exact.task == on_8000  # app names match case-insensitively
    assert exact.shadow_bot_account == "bot_a"
    assert raw(backend_port="7000", target="ALL").task == on_8000  # no exact port: the oldest task on that host
    assert raw(backend_ip="192.168.1.101").task is None
    assert raw(app_name="other_app").task is None


def test_a_relay_failure_is_502_carrying_url_and_success_false(fake_relay, make_account, make_task):
    task = make_task(make_account(host_ip="192.168.1.100", port=8000), app_name="daily_report")
    fake_relay.status = 500

    error = refused()

    assert (error.status_code, error.error_code) == (502, "CONTROL_REQUEST_FAILED")
    assert "HTTP 500" in error.message
    assert error.extra["success"] is False
    assert error.extra["url"].startswith(fake_relay.url + "?") and "tak=daily_report" in error.extra["url"]
    audit = ControlRequest.objects.get()
    assert error.extra["control_request_id"] == str(audit.pk)
    assert (audit.task, audit.outcome, audit.response_status) == (task, ControlOutcome.FAILED, 500)
    assert audit.latency_ms is not None and "HTTP 500" in audit.error
    assert len(fake_relay.requests) == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING


def test_the_recorded_url_hides_the_relays_secrets(fake_relay, settings):
    settings.RPA_RELAY_URL = fake_relay.url.replace("http://", "http://user:s3cret@") + "?key=topsecret"
    request = raw()
    assert "s3cret" not in request.relay_url and "topsecret" not in request.relay_url
    assert fake_relay.queries[0]["key"] == "topsecret"


def test_without_a_relay_it_is_503_and_recorded(settings):
    settings.RPA_RELAY_URL = ""
    error = refused()
    assert (error.status_code, error.error_code, error.extra["success"]) == (
        503,
        "RELAY_NOT_CONFIGURED",
        False,
    )
    audit = ControlRequest.objects.get()
    assert audit.outcome == ControlOutcome.SKIPPED and "RPA_RELAY_URL" in audit.error


def test_the_source_and_user_are_whatever_the_caller_says(fake_relay, admin_user):
    request = raw(source=ControlSource.ADMIN, user=admin_user)
    assert (request.source, request.requested_by) == (ControlSource.ADMIN, admin_user)


def test_an_ipv6_host_written_differently_still_links_its_task(fake_relay, make_account, make_task):
    task = make_task(make_account(host_ip="fd00::10", port=8000), app_name="daily_report")
    request = raw(backend_ip="FD00:0:0::0010", target="ALL")
    assert request.task == task
    assert fake_relay.queries[0]["backend_ip"] == "FD00:0:0::0010"  # sent as given
    assert raw(backend_ip="FD00:0:0::0010").job.task == task  # a START for it is its job
