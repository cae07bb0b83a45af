"""Issue 14 bug 2: a START through /resources/proxy/intranet for a known task is a job, so a
double-click sends one START and answers 409 (the old code sent two)."""

from __future__ import annotations

import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db

URL = "/api/v1/resources/proxy/intranet"


def test_a_double_click_sends_one_start(operator_client, make_account, make_task, fake_relay):
    task = make_task(make_account(host_ip="192.168.1.100", port=8000), app_name="daily_report")
    params = {"backend_ip": "192.168.1.100", "backend_port": "8000", "tak": "daily_report", "target": "START"}

    first = operator_client.get(URL, params)
    second = operator_client.get(URL, params)

    assert first.status_code == 200 and first.json()["success"] is True
    assert second.status_code == 409
    assert (second.json()["success"], second.json()["code"]) == (False, "START_PENDING")
    assert len(fake_relay.requests) == 1
    assert Job.objects.get(task=task).source == "intranet"
