"""A `secret` input (API.md §11) reaches the robot and nothing else: a whole run — declared, started
with it, read by the robot, failed, alerted, retried, exported — is captured (API answers, events,
log lines, the CSV, alerts and their deliveries, admin pages, ControlRequest rows, what the relay
received) and searched for it."""

from __future__ import annotations

import json
import logging

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from alerts.channels.webhook import body_of
from alerts.models import Alert, AlertEvent, Channel, Delivery
from jobs.models import Job
from rpa_workbench.models import StoredEvent
from tasks.models import ControlRequest

pytestmark = pytest.mark.django_db

TYPED_SECRET = "Typed-S3cret-4711"
DEFAULT_SECRET = "Default-S3cret-0815"
INT_SECRET = "9876543210123"


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


def test_a_secret_input_leaks_nowhere_but_to_the_robot(
    operator_client, robot_client, root, fake_relay, make_account, make_task, caplog, published_events,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []  # everything anyone but the robot could read
    Channel.objects.create(name="ops", kind="webhook", target="http://127.0.0.1:9/hook", events=list(AlertEvent.values))
    task = make_task(account=make_account(shadow_bot_account="bot_01"), app_name="export_orders", max_retries=1)
    parameters = [
        {"name": "order_date", "type": "str", "required": True},
        {"name": "password", "type": "str", "secret": True, "default": DEFAULT_SECRET},
        {"name": "pin", "type": "int", "secret": True},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        seen.append(text_of(operator_client.patch(f"/api/v1/tasks/{task.pk}", {"parameters": parameters}, format="json")))
        # A bad value for a secret is refused without being echoed.
        refused = operator_client.post(f"/api/v1/tasks/{task.pk}/start",
                                       {"inputs": {"order_date": "d", "pin": INT_SECRET + "x"}}, format="json")  # fmt: skip
        assert refused.status_code == 400 and "inputs.pin" in refused.json()["message"]
        seen.append(text_of(refused))
        started = operator_client.post(f"/api/v1/tasks/{task.pk}/start",
                                       {"inputs": {"order_date": "2026-01-21", "password": TYPED_SECRET,
                                                   "pin": INT_SECRET}}, format="json")  # fmt: skip
        seen.append(text_of(started))
        job = Job.objects.get(pk=started.json()["job_id"])

        # The robot's own read: in clear (this is where it must arrive).
        config = robot_client.post("/api/v1/resources/config/get",
                                   {"shadow_bot_account": "bot_01", "app_name": "export_orders"}, format="json").json()  # fmt: skip
        assert config["inputs"]["password"] == TYPED_SECRET and config["inputs"]["pin"] == int(INT_SECRET)

        robot_client.post("/api/v1/webhook/confirm", {"shadow_bot_account": "bot_01", "app_name": "export_orders",
                                                      "action": "START"}, format="json")  # fmt: skip
        report = {"shadow_bot_account": "bot_01", "app_name": "export_orders", "status": "failed",
                  "start_time": timezone.now().isoformat(), "execution_id": str(job.pk),
                  "result_summary": {"error_message": "login failed"}, "outputs": {"exported": 0}}  # fmt: skip
        seen.append(text_of(robot_client.post("/api/v1/webhook/execution-complete", report, format="json")))
    retry = Job.objects.get(retry_of=job)
    assert [i["value"] for i in retry.inputs if i["name"] == "password"] == [TYPED_SECRET]  # kept for its robot

    for url in [f"/api/v1/tasks/{task.pk}", "/api/v1/tasks", f"/api/v1/jobs/{job.pk}", f"/api/v1/jobs/{retry.pk}",
                "/api/v1/jobs", f"/api/v1/tasks/{task.pk}/control-requests", "/api/v1/logs",
                "/api/v1/logs/export?columns=extended", "/api/v1/alerts/deliveries", "/api/v1/dashboard/stats"]:  # fmt: skip
        answer = operator_client.get(url)
        assert answer.status_code == 200, url
        seen.append(text_of(answer))
    assert operator_client.get(f"/api/v1/jobs/{job.pk}").json()["inputs"]["password"] == "******"
    for url in [f"/admin/tasks/task/{task.pk}/change/", f"/admin/tasks/task/{task.pk}/start-with-inputs/",
                f"/admin/jobs/job/{job.pk}/change/", f"/admin/jobs/job/{retry.pk}/change/", "/admin/jobs/job/",
                "/admin/tasks/controlrequest/", "/admin/alerts/alert/", "/admin/alerts/delivery/",
                "/admin/executionlogs/executionlog/"]:  # fmt: skip
        page = root.get(url)
        assert page.status_code == 200, url
        seen.append(text_of(page))
    seen.append(json.dumps(published_events, default=str))
    seen.append(json.dumps(list(StoredEvent.objects.values()), default=str))
    seen.append(caplog.text)
    seen.append(json.dumps([model_to_dict(row) for row in ControlRequest.objects.all()], default=str))
    alerts = list(Alert.objects.all())
    assert alerts, "the failed job raised an alert"
    seen.append(json.dumps([[a.message, a.context] for a in alerts], default=str))
    seen.append(json.dumps([[d.message, body_of(d)] for d in Delivery.objects.select_related("alert")], default=str))
    seen.append(json.dumps([[r.path, r.query, r.body.decode() if isinstance(r.body, bytes) else r.body]
                            for r in fake_relay.requests], default=str))  # fmt: skip

    everything = "\n".join(seen)
    assert "******" in everything and "2026-01-21" in everything  # the captures did capture the run
    for secret in (TYPED_SECRET, DEFAULT_SECRET, INT_SECRET):
        assert secret not in everything, f"{secret} leaked"
