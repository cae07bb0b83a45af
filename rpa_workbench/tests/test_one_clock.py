"""One clock: people read every time in RPA_DISPLAY_TIMEZONE (named), and the API writes ISO 8601
with an offset the same way in REST and in SSE payloads."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.conf import settings

from rpa_workbench import events
from rpa_workbench.timefmt import format_datetime

pytestmark = pytest.mark.django_db

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$")


def test_the_display_zone_is_the_robots_zone_by_default():
    assert settings.RPA_DISPLAY_TIMEZONE == "Asia/Shanghai" == settings.TIME_ZONE


def test_one_instant_is_written_one_way_whatever_offset_it_came_with():
    instant = datetime(2026, 1, 21, 6, 30, tzinfo=UTC)
    spellings = [instant, instant.astimezone(timezone(timedelta(hours=8))), instant.astimezone(timezone(timedelta(hours=-5)))]
    assert {format_datetime(value) for value in spellings} == {"2026-01-21T14:30:00+08:00"}


def test_rest_and_sse_payloads_write_datetimes_alike(
    robot_client, viewer_client, make_account, make_task, published_events, django_capture_on_commit_callbacks
):
    task = make_task(account=make_account(shadow_bot_account="bot_01"), app_name="daily_report")
    body = {
        "shadow_bot_account": "bot_01", "app_name": "daily_report", "status": "completed",
        "start_time": "2026-01-21T06:30:00Z", "end_time": "2026-01-21T14:42:34+08:00", "duration_seconds": 754,
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert robot_client.post("/api/v1/webhook/execution-complete", body, format="json").status_code == 200

    rest = viewer_client.get(f"/api/v1/tasks/{task.pk}").json()["last_run_time"]
    sse = next(d for t, d in published_events if t == "task_updated")["changes"]["last_run_time"]
    assert rest == sse == "2026-01-21T14:30:00+08:00"
    log = viewer_client.get("/api/v1/logs").json()["items"][0]
    for field in ("start_time", "end_time", "created_at"):
        assert ISO_WITH_OFFSET.match(log[field]), (field, log[field])


def test_every_datetime_in_an_event_uses_the_api_format():
    moment = datetime(2026, 1, 21, 6, 30, 5, tzinfo=UTC)
    payload = events.payload("account_updated", {"changes": {"end_time": moment, "nested": [moment]}})
    assert payload["data"]["changes"] == {"end_time": "2026-01-21T14:30:05+08:00", "nested": ["2026-01-21T14:30:05+08:00"]}
    assert ISO_WITH_OFFSET.match(events.heartbeat_payload()["data"]["timestamp"])
    assert '"2026-01-21T14:30:05+08:00"' in events.encode({"at": moment})


def test_the_admin_shows_times_in_the_display_zone_and_names_it(client, admin_user, make_log):
    client.force_login(admin_user)
    make_log(start_time=datetime(2026, 1, 21, 6, 30, tzinfo=UTC))
    html = client.get("/admin/executionlogs/executionlog/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Times in Asia/Shanghai" in html
    assert "2:30 p.m." in html or "14:30" in html  # 06:30 UTC is 14:30 in Shanghai


def test_scheduler_log_lines_name_the_offset():
    formatter = settings.LOGGING["formatters"]["plain"]
    assert formatter["datefmt"].endswith("%z")
