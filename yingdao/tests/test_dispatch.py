"""Jobs on the Yingdao backend against the fake tenant: start, callbacks, stop, idempotency,
failures, secrets."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("jobs.transitions", reason="needs the jobs app")

from django.db import transaction  # noqa: E402

from executionlogs.models import ExecutionLog  # noqa: E402
from jobs import outbox  # noqa: E402
from jobs.backends import get_backend  # noqa: E402
from jobs.models import Job  # noqa: E402
from tasks.models import ControlRequest  # noqa: E402
from yingdao.models import PendingCallback  # noqa: E402
from yingdao.testing import http_deliver  # noqa: E402
from yingdao.tests.conftest import KEY_SECRET  # noqa: E402
from yingdao.tests.helpers import deliver_in_process, start  # noqa: E402

pytestmark = pytest.mark.django_db
WEBHOOK_TOKEN = "test-webhook-secret"


def test_start_then_running_then_finish_ends_completed_with_its_execution_log(operator_client, yingdao_task, fake_yingdao):
    answer = start(operator_client, yingdao_task)
    job = Job.objects.get(pk=answer["job_id"])
    assert job.status == "dispatched"
    [yd_job] = fake_yingdao.jobs.values()
    assert job.external_id == yd_job.job_uuid
    sent = yd_job.body
    assert sent["robotUuid"] == "app-uuid-1" and sent["accountName"] == "bot@corp"
    assert sent["idempotentUuid"] == str(job.pk)
    assert (sent["priority"], sent["runTimeout"], sent["waitTimeoutSeconds"]) == ("high", 3600, 1800)
    assert sent["params"] == [{"name": "shop", "value": "A", "type": "str"}, {"name": "days", "value": 2, "type": "int"}]
    assert sent["callbackUrl"] == f"http://testserver/api/v1/webhook/yingdao?token={WEBHOOK_TOKEN}"

    fake_yingdao.set_status(job.external_id, "running")
    assert fake_yingdao.flush() == [200]
    job.refresh_from_db()
    assert job.status == "running"
    yingdao_task.refresh_from_db()
    assert yingdao_task.status == "running"

    outputs = [{"name": "total_items", "value": 12}, {"name": "success_items", "value": 11}]
    fake_yingdao.set_status(job.external_id, "finish", outputs=outputs, screenshot_url="https://oss.example/1.png")
    assert fake_yingdao.flush() == [200]
    job.refresh_from_db()
    assert job.status == "completed"
    log = ExecutionLog.objects.get(pk=job.execution_log_id)
    assert log.status == "completed" and log.app_name == "export_orders" and log.shadow_bot_account == "ydbot"
    assert log.result_summary == {"total_items": 12, "success_items": 11}  # from one job/query: the callback lacks them
    assert log.screenshot_path == "https://oss.example/1.png"
    assert log.start_time is not None and log.end_time is not None
    assert len(fake_yingdao.calls("job/query")) == 1
    yingdao_task.refresh_from_db()
    assert yingdao_task.status == "pending"


def test_the_task_shaped_callback_with_epoch_times_ends_the_job_too(operator_client, yingdao_task, fake_yingdao):
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    fake_yingdao.set_status(job.external_id, "error", shape="task")
    fake_yingdao.flush()
    job.refresh_from_db()
    assert (job.status, job.reason) == ("failed", "robot_reported_failure")
    assert ExecutionLog.objects.get(pk=job.execution_log_id).status == "failed"


def test_duplicate_and_out_of_order_callbacks_change_nothing_twice(operator_client, yingdao_task, fake_yingdao):
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    finish = fake_yingdao.set_status(job.external_id, "finish", notify=False)  # finish comes first
    running = {**finish, "status": "running"}
    url = fake_yingdao.jobs[job.external_id].callback_url
    for body in (finish, finish, running, {**finish, "dataType": "task", "jobList": [finish]}):
        assert deliver_in_process(url, body) == 200
    job.refresh_from_db()
    assert job.status == "completed"
    assert ExecutionLog.objects.count() == 1


def test_an_unknown_status_is_kept_raw_and_changes_nothing(operator_client, yingdao_task, fake_yingdao, robot_client):
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    response = robot_client.post(
        f"/api/v1/webhook/yingdao?token={WEBHOOK_TOKEN}",
        {"dataType": "job", "jobUuid": job.external_id, "status": "stopping"},
        format="json",
    )
    assert response.status_code == 200
    assert "'stopping' is not one we know" in response.json()["message"]
    job.refresh_from_db()
    assert job.status == "dispatched"


def test_unknown_job_uuids_answer_200_and_change_nothing(fake_yingdao, anon_client):
    response = anon_client.post(
        f"/api/v1/webhook/yingdao?token={WEBHOOK_TOKEN}", {"dataType": "job", "jobUuid": "nope", "status": "finish"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["message"].startswith("no job matched nope")
    assert Job.objects.count() == 0


def test_the_callback_needs_the_webhook_secret(fake_yingdao, anon_client):
    body = {"dataType": "job", "jobUuid": "x", "status": "finish"}
    assert anon_client.post("/api/v1/webhook/yingdao?token=wrong", body, format="json").status_code == 401
    assert anon_client.post("/api/v1/webhook/yingdao", body, format="json").status_code == 401
    bad = anon_client.post(f"/api/v1/webhook/yingdao?token={WEBHOOK_TOKEN}", {"dataType": "job"}, format="json")
    assert bad.status_code == 400 and bad.json()["message"] == "jobUuid: required"


def test_stop_sends_job_stop_and_the_stopped_callback_ends_the_job(operator_client, yingdao_task, fake_yingdao):
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    fake_yingdao.set_status(job.external_id, "running")
    fake_yingdao.flush()
    response = operator_client.post(f"/api/v1/tasks/{yingdao_task.pk}/stop")
    assert response.status_code == 200, response.json()
    assert [body for endpoint, body, _ in fake_yingdao.requests if endpoint == "job/stop"] == [{"jobUuid": job.external_id}]
    job.refresh_from_db()
    assert job.status == "stopping"
    fake_yingdao.flush()  # the fake calls back `stopped`
    job.refresh_from_db()
    assert job.status == "stopped"


def test_a_repeated_start_after_a_crash_between_send_and_store_makes_one_yingdao_job(yingdao_task, fake_yingdao, make_job_for):
    job = make_job_for(yingdao_task)
    backend = get_backend("yingdao")
    first = backend.start(job)
    Job.objects.filter(pk=job.pk).update(external_id=None)  # ... the process died before storing it
    job.refresh_from_db()
    again = backend.start(job)
    assert first.ok and again.ok
    assert again.external_id == first.external_id
    assert "idempotent repeat" in again.message
    assert len(fake_yingdao.jobs) == 1


def test_a_start_whose_answer_timed_out_is_asked_again_and_makes_one_job(yingdao_task, fake_yingdao, make_job_for, settings):
    settings.RPA_YINGDAO_TIMEOUT = 0.6
    settings.RPA_YINGDAO_CONNECT_TIMEOUT = 0.2
    fake_yingdao.start_answer_delay = 1.0
    job = make_job_for(yingdao_task)
    calls = []
    original = fake_yingdao.handle

    def first_slow(endpoint, body, token):
        if endpoint == "job/start":
            calls.append(1)
            if len(calls) > 1:
                fake_yingdao.start_answer_delay = 0
        return original(endpoint, body, token)

    fake_yingdao.handle = first_slow
    outcome = get_backend("yingdao").start(job)
    assert outcome.ok, outcome
    assert len(calls) == 2 and len(fake_yingdao.jobs) == 1
    job.refresh_from_db()
    assert job.external_id is None and outcome.external_id  # the adapter translates; the outbox stores it


def test_a_callback_that_arrives_before_the_start_returned_is_not_lost(
    transactional_db, yingdao_task, fake_yingdao, make_job_for, live_server, settings
):
    settings.RPA_PUBLIC_URL = live_server.url
    fake_yingdao.deliver = http_deliver  # a real POST to the live server, from the fake's thread
    job = make_job_for(yingdao_task)

    def call_back_before_answering(yd_job):
        fake_yingdao.set_status(yd_job.job_uuid, "running")
        fake_yingdao.flush()

    fake_yingdao.on_start = call_back_before_answering
    with transaction.atomic():  # the START as the claim writes it, sent by the outbox's sender
        start = outbox.enqueue(job, action="start", source="api")
    outbox.send_robot(job.account_id)
    start.refresh_from_db()
    assert start.outcome == "sent"
    [(_, _, status)] = fake_yingdao.delivered
    assert status == 200  # it arrived while the job had no jobUuid yet ...
    job.refresh_from_db()
    assert job.external_id and len(fake_yingdao.jobs) == 1
    assert job.status == "running"  # ... and was applied once the answer was stored
    assert not PendingCallback.objects.exists()


def test_yingdao_failures_are_502_with_yingdaos_message_and_recorded(operator_client, yingdao_task, fake_yingdao):
    fake_yingdao.failures["job/start"] = (500, "机器人 bot@corp 不在线 (robot offline)")
    response = operator_client.post(f"/api/v1/tasks/{yingdao_task.pk}/start")
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "CONTROL_REQUEST_FAILED"
    assert "机器人 bot@corp 不在线 (robot offline)" in body["message"]
    request = ControlRequest.objects.get(action="start")
    assert request.outcome == "failed" and "robot offline" in request.error


def test_not_configured_is_503_naming_the_variables(operator_client, yingdao_task, settings):
    settings.RPA_YINGDAO_ACCESS_KEY_SECRET = ""
    response = operator_client.post(f"/api/v1/tasks/{yingdao_task.pk}/start")
    assert response.status_code == 503
    assert response.json()["code"] == "BACKEND_NOT_CONFIGURED"
    assert response.json()["message"] == "Yingdao backend not configured: set RPA_YINGDAO_ACCESS_KEY_SECRET"
    with pytest.raises(Exception, match="RPA_YINGDAO_ACCESS_KEY_SECRET"):
        get_backend("yingdao").start(Job(task=yingdao_task, account=yingdao_task.account))


def test_no_secret_in_any_log_line_or_control_request(operator_client, yingdao_task, fake_yingdao, caplog):
    caplog.set_level(logging.DEBUG)
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    fake_yingdao.expire_tokens()
    fake_yingdao.set_status(job.external_id, "finish")
    fake_yingdao.flush()
    fake_yingdao.failures["job/start"] = (400, f"bad callbackUrl http://testserver/api/v1/webhook/yingdao?token={WEBHOOK_TOKEN}")
    operator_client.post(f"/api/v1/tasks/{yingdao_task.pk}/start")
    text = "\n".join(record.getMessage() for record in caplog.records)
    stored = "\n".join(f"{r.relay_url} {r.error}" for r in ControlRequest.objects.all())
    assert text and stored
    for secret in (KEY_SECRET, WEBHOOK_TOKEN, *fake_yingdao.issued_tokens):
        assert secret not in text
        assert secret not in stored


def test_a_job_waiting_in_yingdaos_queue_is_not_failed_before_its_wait_timeout(yingdao_task, make_job_for, settings):
    from datetime import timedelta

    from django.utils import timezone

    from jobs import timeouts

    settings.RPA_START_CONFIRM_SECONDS = 120
    dispatched = timezone.now()
    job = make_job_for(yingdao_task, wait_timeout_seconds=1800)
    Job.objects.filter(pk=job.pk).update(dispatched_at=dispatched)
    assert timeouts.never_confirmed(dispatched + timedelta(seconds=600)) == []  # Yingdao may still start it
    assert timeouts.never_confirmed(dispatched + timedelta(seconds=1800 + 121)) == [str(job.pk)]
