"""The dashboard's alerts card: the latest alerts and the channels failing to deliver."""

from __future__ import annotations

import pytest

from alerts import worker
from alerts.services import raise_alert

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_latest_alerts_and_failing_channels(client, viewer_user, make_channel, make_task, receiver):
    broken = receiver()
    broken.status = 500
    make_channel(name="ops-pager", target=broken.url)
    make_channel(name="fine-hook", target=receiver().url)
    raise_alert(event="robot_lost", task=make_task(app_name="nightly_sync"))
    worker.run_once()

    client.force_login(viewer_user)
    html = client.get("/dashboard/").content.decode()
    assert "Robot lost (running job lost contact)" in html and "nightly_sync" in html
    assert 'data-stat="failing-channels">1<' in html
    assert "ops-pager (webhook)" in html and "HTTP 500" in html and "fine-hook" not in html
    assert "Alerts" in client.get("/dashboard/content").content.decode()


def test_no_alerts_says_so(client, viewer_user):
    client.force_login(viewer_user)
    assert "No alerts" in client.get("/dashboard/").content.decode()
