"""The alerts admin shows what an alert is about: the job as a link labelled by its app (not a
raw UUID), the message, the severity as a badge; a delivery is titled by its channel's name;
the index heads the apps by their names ("Execution logs", not "EXECUTIONLOGS")."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from alerts.models import Alert, AlertEvent, Channel, Delivery, Severity

pytestmark = pytest.mark.django_db


def test_the_alerts_list_links_the_job_and_shows_the_message(root, make_task):
    task = make_task(app_name="order_sync")
    job_id = "0c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
    Alert.objects.create(
        event=AlertEvent.JOB_FAILED, severity=Severity.CRITICAL, message="【RPA】运行失败：机器人 bot_01\n[RPA] Job failed",
        task=task, account=task.account, job_id=job_id, occurred_at=timezone.now(), context={"app_name": "order_sync"},
    )
    html = root.get("/admin/alerts/alert/").content.decode()
    assert f'<a href="/admin/jobs/job/{job_id}/change/">order_sync · 0c1d2e3f</a>' in html
    assert "【RPA】运行失败：机器人 bot_01" in html
    assert '<span class="badge badge-critical">Critical</span>' in html


def test_a_delivery_is_titled_by_its_channels_name(make_task):
    channel = Channel.objects.create(name="运维群", kind="webhook", target="https://hooks.example.invalid/x")
    alert = Alert.objects.create(event=AlertEvent.ROBOT_OFFLINE, message="m", occurred_at=timezone.now())
    delivery = Delivery.objects.create(alert=alert, channel=channel, event=alert.event, message="m",
                                       next_attempt_at=timezone.now())
    with translation.override("en"):
        assert str(delivery) == "Robot offline → 运维群 (Pending)"
    assert str(channel.pk) not in str(delivery)


@pytest.mark.parametrize(("language", "headings"), [
    ("en", ["Execution logs", "Robot accounts", "Jobs", "Tasks", "Alerts", "Yingdao Open API"]),
    ("zh-hans", ["执行日志", "机器人账号", "作业", "任务", "告警", "影刀开放 API"]),
])
def test_the_index_heads_each_app_by_its_name(root, language, headings):
    html = root.get("/admin/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for heading in headings:
        assert 'class="section" title="' in html and f">{heading}</a>" in html, heading
    assert "Executionlogs" not in html
