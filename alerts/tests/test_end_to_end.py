"""Live: Daphne (embedded scheduler and alert worker), the simulator failing every run, a local
receiver. One failed run → exactly one signed webhook delivery and one `alert` SSE event."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

import conftest
from alerts.models import AlertEvent, Delivery
from rpa_workbench.testing.live_server import free_port
from rpa_workbench.testing.simulator import start_simulator, stop_simulator
from rpa_workbench.testing.waiting import wait_for
from rpa_workbench.tests.conftest import SseReader

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SECRET = "live-e2e-secret"




def test_a_failed_run_is_one_signed_delivery_and_one_alert_event(
    tmp_path, live_server_factory, receiver, make_channel, make_task, make_account, admin_user
):
    hook = receiver("/alerts")
    make_channel(target=hook.url, secret=SECRET, events=list(AlertEvent.values))
    sim_port = free_port()
    server = live_server_factory(env={
        "RPA_RELAY_URL": f"http://127.0.0.1:{sim_port}/yingdao",
        "RPA_EMBEDDED_SCHEDULER": "true",
        "RPA_SCHEDULER_INTERVAL": "0.5",
        "RPA_EMBEDDED_ALERTS": "true",
        "RPA_ALERT_INTERVAL": "0.2",
        "RPA_ALERT_ALLOWED_INTERNAL_HOSTS": "127.0.0.1",  # the local receiver stands in for an on-premises one
    })
    simulator = start_simulator(
        tmp_path, sim_port, server.url, conftest.WEBHOOK_TOKEN,
        "--run-seconds", "1-1.5", "--heartbeat-seconds", "0.5", "--failure-rate", "1",
    )
    stream = SseReader(f"{server.url}/api/v1/sse/events", params={"token": str(AccessToken.for_user(admin_user))})
    stream.start()
    try:
        task = make_task(account=make_account(host_ip="10.30.0.1", port=8200),
                         trigger_time=timezone.now() - timedelta(seconds=1))

        event = stream.next("alert", timeout=40)
        assert event.data["data"]["event"] == "job_failed" and event.data["data"]["task_id"] == str(task.pk)
        wait_for(lambda: hook.requests, timeout=20, what=f"the webhook delivery\n{server.log()}")
        stream.none("alert", within=3)  # nothing else comes, on the stream or the receiver

        [request] = hook.requests
        timestamp = request.headers["X-RPA-Timestamp"]
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-RPA-Signature"] == f"sha256={expected}"
        body = json.loads(request.body)
        assert body["event"] == "job_failed" and body["task"]["id"] == str(task.pk)
        delivery = Delivery.objects.get()
        assert request.headers["X-RPA-Delivery"] == str(delivery.pk)
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("sent", 1, 200)
        assert event.data["data"]["alert_id"] == str(delivery.alert_id)
    finally:
        stream.close()
        stop_simulator(*simulator)
