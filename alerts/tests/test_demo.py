"""The demo: `alert_receiver` prints what it gets and checks the signature; `seed_demo` adds a
webhook channel pointing at it."""

from __future__ import annotations

import pytest
import requests
from django.core.management import call_command

from alerts import worker
from alerts.models import Channel, Delivery
from alerts.receiver import make_server
from alerts.services import raise_alert
from rpa_workbench.testing.live_server import free_port
from rpa_workbench.testing.servers import serve_in_background, stop

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_receiver():
    printed: list[str] = []
    port = free_port()
    server = make_server(port, "demo-secret", printed.append)
    serve_in_background(server)
    yield port, printed
    stop(server)


def test_the_seeded_channel_reaches_the_receiver_signed(monkeypatch, demo_receiver, make_task):
    port, printed = demo_receiver
    monkeypatch.setenv("RPA_DEMO_ALERT_PORT", str(port))
    monkeypatch.setenv("RPA_DEMO_ALERT_SECRET", "demo-secret")
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    channel = Channel.objects.get()
    assert channel.target == f"http://127.0.0.1:{port}/alerts" and channel.secret == "demo-secret"

    raise_alert(event="job_failed", task=make_task(app_name="daily_report"))
    assert worker.run_once() == ["sent"]
    delivery = Delivery.objects.get()
    assert printed and printed[0].startswith(f"job_failed delivery {delivery.pk} signature ok")
    assert "daily_report" in printed[0]


def test_the_receiver_refuses_a_forged_signature(demo_receiver):
    port, printed = demo_receiver
    answer = requests.post(
        f"http://127.0.0.1:{port}/alerts",
        data=b'{"message": "forged"}',
        headers={"X-RPA-Timestamp": "1", "X-RPA-Signature": "sha256=00"},
        timeout=5,
    )
    assert answer.status_code == 401 and "signature INVALID" in printed[0]
