"""`GET /api/v1/alerts`: the raised alerts, newest first, paginated and filtered, read with the
alerts' view permission like the other alerts endpoints (docs/api.md §10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.services import raise_alert

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts"


@pytest.fixture
def raised(make_account, make_task):
    robot = make_account(shadow_bot_account="bot_a")
    task = make_task(account=robot, app_name="daily_report")
    now = timezone.now()
    old = raise_alert(event="robot_offline", account=robot, now=now - timedelta(hours=2))
    failed = raise_alert(event="job_failed", task=task, details={"reason": "robot_reported_failure"}, now=now)
    other = raise_alert(event="schedule_skipped", task=make_task(), now=now - timedelta(hours=1))
    return {"old": old, "failed": failed, "other": other, "robot": robot, "task": task, "now": now}


def test_lists_raised_alerts_newest_first_with_their_message(viewer_client, raised):
    body = viewer_client.get(ALERTS).json()
    assert (body["total"], body["page"], body["total_pages"]) == (3, 1, 1)
    assert [item["event"] for item in body["items"]] == ["job_failed", "schedule_skipped", "robot_offline"]
    first = body["items"][0]
    assert first["id"] == str(raised["failed"].pk) and first["task_id"] == str(raised["task"].pk)
    assert first["account_id"] == str(raised["robot"].pk) and first["severity"]
    assert "daily_report" in first["message"] and first["context"]["reason"] == "robot_reported_failure"
    assert first["occurred_at"].endswith("+08:00")


def test_filters_and_pages(viewer_client, raised):
    def ids(**query):
        return [item["id"] for item in viewer_client.get(ALERTS, query).json()["items"]]

    assert ids(event="robot_offline") == [str(raised["old"].pk)]
    assert ids(account_id=str(raised["robot"].pk)) == [str(raised["failed"].pk), str(raised["old"].pk)]
    assert ids(task_id=str(raised["task"].pk)) == [str(raised["failed"].pk)]
    since = (raised["now"] - timedelta(minutes=90)).isoformat()
    assert ids(occurred_after=since) == [str(raised["failed"].pk), str(raised["other"].pk)]
    page = viewer_client.get(ALERTS, {"page_size": 2, "page": 2}).json()
    assert (page["total"], len(page["items"]), page["total_pages"]) == (3, 1, 2)


def test_one_alert_and_bad_filters(viewer_client, raised):
    assert viewer_client.get(f"{ALERTS}/{raised['failed'].pk}").json()["event"] == "job_failed"
    bad = viewer_client.get(ALERTS, {"event": "exploded"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"
    assert viewer_client.get(ALERTS, {"account_id": "nope"}).status_code == 400


def test_channels_and_deliveries_still_answer_beside_it(viewer_client, raised):
    assert viewer_client.get(f"{ALERTS}/channels").status_code == 200
    assert viewer_client.get(f"{ALERTS}/deliveries").status_code == 200


def test_authentication_and_read_only(anon_client, viewer_client, admin_client_api, django_user_model, raised):
    assert anon_client.get(ALERTS).status_code == 401
    nobody = django_user_model.objects.create_user(username="norole", password="pw-norole")
    stranger = APIClient()
    stranger.force_authenticate(nobody)
    assert stranger.get(ALERTS).status_code == 403
    assert viewer_client.post(ALERTS, {}, format="json").status_code == 403
    assert admin_client_api.post(ALERTS, {}, format="json").status_code == 405
    assert admin_client_api.delete(f"{ALERTS}/{raised['old'].pk}").status_code == 405
