"""A channel secret never leaves the database: not in any API answer, admin page or log line,
whatever happens to the send."""

from __future__ import annotations

import logging

import pytest

from alerts import worker
from alerts.models import Delivery
from alerts.services import raise_alert

pytestmark = pytest.mark.django_db

SECRET = "do-not-leak-5e3d587e"


def test_no_log_line_carries_the_secret(caplog, settings, receiver, make_channel, make_task, admin_client_api):
    settings.RPA_ALERT_TIMEOUT = 0.2
    caplog.set_level(logging.DEBUG)
    ok, failing, slow = receiver(), receiver(), receiver()
    failing.status = 500
    slow.delay = 1.0
    channels = [
        make_channel(kind="webhook", target=ok.url, secret=SECRET),
        make_channel(kind="dingtalk", target=failing.url + "?access_token=t", secret=SECRET),
        make_channel(kind="feishu", target=slow.url, secret=SECRET),
        make_channel(kind="webhook", target="http://127.0.0.1:9/closed", secret=SECRET),
    ]
    raise_alert(event="job_failed", task=make_task())
    worker.run_once()
    for channel in channels:
        answer = admin_client_api.post(f"/api/v1/alerts/channels/{channel.pk}/test")
        assert SECRET not in answer.content.decode()
    listing = admin_client_api.get("/api/v1/alerts/deliveries").content.decode()

    assert Delivery.objects.filter(last_error="").count() == 1  # the others failed, each logged
    assert "WARNING" in caplog.text and SECRET not in caplog.text
    assert SECRET not in listing
    assert all(SECRET not in d.last_error for d in Delivery.objects.all())
