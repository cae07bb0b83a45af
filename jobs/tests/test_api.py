"""The jobs API (API.md §9), the task control responses that name their job (§2), the account
rule for relay robots (§1) and the job stats (§9.2)."""

from __future__ import annotations

import pytest
from django.utils.dateparse import parse_datetime

from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/jobs"


def test_create_list_filter_and_detail(operator_client, make_account, make_task, fake_relay):
    account = make_account(shadow_bot_account="bot_01")
    first, second = make_task(account, priority="low"), make_task(account)
    created = operator_client.post(URL, {"task_id": str(first.pk)}, format="json")
    queued = operator_client.post(URL, {"task_id": str(second.pk), "priority": "high"}, format="json")

    assert created.status_code == 201 and created.json()["status"] == "dispatched"
    body = queued.json()
    assert (queued.status_code, body["status"], body["priority"], body["queue_position"]) == (201, "queued", "high", 1)
    assert body["requested_by"] == "operator1" and body["source"] == "api" and body["attempt"] == 1

    listing = operator_client.get(URL, {"status": "queued,dispatched"}).json()
    assert listing["total"] == 2 and [j["id"] for j in listing["items"]] == [body["id"], created.json()["id"]]
    assert operator_client.get(URL, {"status": "running"}).json()["total"] == 0
    assert operator_client.get(URL, {"status": "nope"}).status_code == 400
    assert operator_client.get(URL, {"task_id": str(first.pk)}).json()["total"] == 1
    assert operator_client.get(f"{URL}/{body['id']}").json()["queue_position"] == 1


def test_cancel_stop_and_retry(operator_client, make_task, fake_relay):
    task = make_task()
    job = operator_client.post(URL, {"task_id": str(task.pk)}, format="json").json()
    refused = operator_client.post(f"{URL}/{job['id']}/cancel")
    assert (refused.status_code, refused.json()["code"]) == (409, "JOB_NOT_QUEUED")
    assert "dispatched" in refused.json()["message"]

    stopped = operator_client.post(f"{URL}/{job['id']}/stop?force=true").json()
    assert (stopped["status"], stopped["reason"]) == ("stopped", "force_stopped")
    again = operator_client.post(f"{URL}/{job['id']}/stop")
    assert (again.status_code, again.json()["code"]) == (409, "JOB_NOT_RUNNING")

    retry = operator_client.post(f"{URL}/{job['id']}/retry")
    assert retry.status_code == 201
    assert (retry.json()["attempt"], retry.json()["retry_of"], retry.json()["status"]) == (2, job["id"], "queued")


def test_viewers_read_but_cannot_start(viewer_client, make_task):
    task = make_task()
    assert viewer_client.get(URL).status_code == 200
    assert viewer_client.post(URL, {"task_id": str(task.pk)}, format="json").status_code == 403


def test_task_start_names_its_job_and_stop_of_a_queued_job_cancels_it(operator_client, make_account, make_task, fake_relay):
    account = make_account(shadow_bot_account="bot_01")
    busy, waiting = make_task(account), make_task(account)
    operator_client.post(f"/api/v1/tasks/{busy.pk}/start")
    body = operator_client.post(f"/api/v1/tasks/{waiting.pk}/start").json()
    assert (body["success"], body["job_status"], body["message"]) == (True, "queued", "queued: robot bot_01 is busy (position 1)")

    stop = operator_client.post(f"/api/v1/tasks/{waiting.pk}/stop").json()
    assert stop["job_status"] == "cancelled"
    assert Job.objects.get(pk=body["job_id"]).status == JobStatus.CANCELLED
    assert len(fake_relay.requests) == 1


def test_relay_accounts_run_one_job_at_a_time(operator_client, make_account):
    account = make_account()
    response = operator_client.patch(f"/api/v1/accounts/{account.pk}", {"max_concurrent_jobs": 3}, format="json")
    assert response.status_code == 400
    assert "relay" in response.json()["message"] and "target=ALL" in response.json()["message"]
    ok = operator_client.patch(f"/api/v1/accounts/{account.pk}", {"max_concurrent_jobs": 1}, format="json")
    assert ok.status_code == 200 and ok.json()["max_concurrent_jobs"] == 1


def test_stats_count_jobs_by_every_status(operator_client, make_task, make_job):
    queued = make_job(make_task())
    make_job(make_task(), JobStatus.RUNNING)
    jobs = operator_client.get("/api/v1/dashboard/stats").json()["jobs"]
    assert set(jobs["by_status"]) == set(JobStatus.values)
    assert (jobs["by_status"]["queued"], jobs["by_status"]["running"], jobs["by_status"]["failed"]) == (1, 1, 0)
    assert parse_datetime(jobs["oldest_queued_at"]) == queued.created_at
