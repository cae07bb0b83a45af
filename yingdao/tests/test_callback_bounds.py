"""What one Yingdao callback may cost (issue 23): the secret sits in a URL Yingdao holds, so a
body listing 1,000 runs with 100 KB of padding must not write 178 MB. Each unknown job keeps
only its own entry, a few of them, for a day; `jobList` is capped; crafted times are a 400."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import WEBHOOK_TOKEN
from yingdao import updates
from yingdao.callbacks import MAX_JOB_LIST
from yingdao.models import PendingCallback

pytestmark = pytest.mark.django_db

CALLBACK = f"/api/v1/webhook/yingdao?token={WEBHOOK_TOKEN}"
PADDING = "x" * 100_000


def _task_body(count: int, **extra) -> dict:
    jobs = [{"jobUuid": f"yd-{n}", "robotName": "导出订单", "status": "finish", "startTime": 1642837962000,
             "endTime": 1642837972000, "padding": PADDING[:100]} for n in range(count)]
    return {"dataType": "task", "taskUuid": "task-1", "status": "finish", "jobList": jobs, **extra}


def test_a_job_list_longer_than_the_cap_is_a_400_and_stores_nothing(anon_client):
    response = anon_client.post(CALLBACK, _task_body(MAX_JOB_LIST + 1), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"] == f"jobList: at most {MAX_JOB_LIST} entries, got {MAX_JOB_LIST + 1}"
    assert not PendingCallback.objects.exists()


def test_a_full_job_list_is_accepted(anon_client):
    assert anon_client.post(CALLBACK, _task_body(MAX_JOB_LIST), format="json").status_code == 200
    assert PendingCallback.objects.count() == MAX_JOB_LIST


def test_each_unknown_job_keeps_only_its_own_entry(anon_client):
    response = anon_client.post(CALLBACK, _task_body(3, padding=PADDING), format="json")
    assert response.status_code == 200
    rows = {row.job_uuid: row.body for row in PendingCallback.objects.all()}
    assert set(rows) == {"yd-0", "yd-1", "yd-2"}
    for job_uuid, entry in rows.items():
        assert entry["jobUuid"] == job_uuid and entry["status"] == "finish"
        assert len(json.dumps(entry)) < 1000  # not the 100 KB body, not the other jobs
        assert "padding" not in entry and "jobList" not in entry


def test_a_kept_entry_is_applied_once_its_job_is_known(anon_client, yingdao_task, make_job_for):
    body = {"dataType": "job", "jobUuid": "yd-late", "status": "running", "startTime": "2026-01-21 14:30:00",
            "padding": PADDING}
    assert anon_client.post(CALLBACK, body, format="json").status_code == 200
    job = make_job_for(yingdao_task)
    [applied] = updates.adopt(job, "yd-late")
    job.refresh_from_db()
    assert applied.status == job.status == "running"
    assert not PendingCallback.objects.exists()


def test_the_pending_rows_of_one_unknown_job_are_capped(anon_client):
    for n in range(updates.PENDING_PER_JOB + 5):
        body = {"dataType": "job", "jobUuid": "yd-repeat", "status": "running", "remark": f"try {n}"}
        assert anon_client.post(CALLBACK, body, format="json").status_code == 200
    rows = list(PendingCallback.objects.filter(job_uuid="yd-repeat").order_by("id"))
    assert len(rows) == updates.PENDING_PER_JOB
    assert rows[-1].body["remark"] == f"try {updates.PENDING_PER_JOB + 4}"  # the newest are kept


def test_pending_rows_expire(anon_client):
    anon_client.post(CALLBACK, {"dataType": "job", "jobUuid": "yd-old", "status": "running"}, format="json")
    PendingCallback.objects.update(received_at=timezone.now() - updates.PENDING_KEPT - timedelta(minutes=1))
    anon_client.post(CALLBACK, {"dataType": "job", "jobUuid": "yd-new", "status": "running"}, format="json")
    assert list(PendingCallback.objects.values_list("job_uuid", flat=True)) == ["yd-new"]


def test_nothing_more_is_kept_past_the_total_cap(anon_client, monkeypatch):
    monkeypatch.setattr(updates, "PENDING_TOTAL", 3)
    response = anon_client.post(CALLBACK, _task_body(5), format="json")
    assert response.status_code == 200
    assert PendingCallback.objects.count() == 3


@pytest.mark.parametrize("start_time", ["9" * 400, "-" + "9" * 400, 9 * 10**400, "9" * 25])
def test_an_absurd_start_time_is_a_400(anon_client, start_time):
    body = {"dataType": "job", "jobUuid": "yd-1", "status": "finish", "startTime": start_time}
    response = anon_client.post(CALLBACK, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith("startTime: epoch value out of range")
    assert len(response.content) < 500  # the value is not echoed whole
