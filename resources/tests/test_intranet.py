"""API.md §7 `proxy/intranet`: the SPA's start/stop goes through the audited relay client."""

from __future__ import annotations

import pytest

from tasks.models import ControlOutcome, ControlRequest, ControlSource

pytestmark = pytest.mark.django_db

URL = "/api/v1/resources/proxy/intranet"


def params(**overrides):
    return {"backend_ip": "192.168.1.100", "backend_port": "8000", "tak": "daily_report", "target": "START", **overrides}


@pytest.fixture
def task(make_account, make_task):
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)
    return make_task(account, app_name="daily_report")


def test_start_is_relayed_and_audited(operator_client, operator_user, fake_relay, task):
    response = operator_client.get(URL, params())
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"]
    assert body["response_status"] == 200
    assert body["url"].startswith(fake_relay.url)
    sent = fake_relay.queries[-1]
    assert (sent["backend_ip"], sent["backend_port"], sent["tak"], sent["target"]) == (
        "192.168.1.100", "8000", "daily_report", "START",
    )
    audit = ControlRequest.objects.get()
    assert audit.source == ControlSource.INTRANET
    assert audit.requested_by == operator_user
    assert audit.task == task  # linked: host IP + app name match a task
    assert audit.outcome == ControlOutcome.SENT
    assert audit.target == "START"


def test_stop_without_a_matching_task_is_still_sent_and_audited(operator_client, fake_relay, task):
    response = operator_client.get(URL, params(backend_ip="10.9.9.9", tak="other_app", target="ALL"))
    assert response.status_code == 200
    audit = ControlRequest.objects.get()
    assert audit.task is None
    assert (audit.host_ip, audit.app_name, audit.target) == ("10.9.9.9", "other_app", "ALL")


def test_relay_failure_is_502_with_success_false_and_audited(operator_client, fake_relay, task):
    fake_relay.status = 500
    response = operator_client.get(URL, params())
    assert response.status_code == 502
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "CONTROL_REQUEST_FAILED"
    assert body["message"]
    assert body["url"].startswith(fake_relay.url)
    assert ControlRequest.objects.get().outcome == ControlOutcome.FAILED


def test_bad_parameters_are_400_with_success_false(operator_client, fake_relay):
    response = operator_client.get(URL, params(backend_port="99999"))
    assert response.status_code == 400
    assert response.json()["success"] is False
    response = operator_client.get(URL, {"backend_ip": "1.2.3.4"})
    assert response.status_code == 400
    assert fake_relay.requests == []


def test_intranet_needs_the_control_permission(viewer_client, anon_client, fake_relay, task):
    denied = viewer_client.get(URL, params())
    assert denied.status_code == 403
    assert denied.json()["success"] is False
    assert anon_client.get(URL, params()).status_code == 401
    assert fake_relay.requests == []
    assert not ControlRequest.objects.exists()
