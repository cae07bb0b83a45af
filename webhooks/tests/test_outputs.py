"""A run's outputs (API.md §11): reported on execution-complete as an object or Yingdao's list,
within 100 names and 64 KB; stored on the job; in the API, in `job_updated`, in alerts about the
job and in the logs CSV's extended columns."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Channel, Delivery
from jobs.models import Job, JobStatus
from jobs.tests.conftest import build_job

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook/execution-complete"


@pytest.fixture
def running_job(make_account, make_task):
    account = make_account(shadow_bot_account="bot_01", status="running")
    task = make_task(account=account, app_name="daily_report", status="running")
    return build_job(task, JobStatus.RUNNING, dispatched_at=timezone.now(), started_at=timezone.now())


def report(client, job, outputs, status="completed"):
    body = {"shadow_bot_account": "bot_01", "app_name": "daily_report", "status": status,
            "start_time": timezone.now().isoformat(), "execution_id": str(job.pk), "outputs": outputs}  # fmt: skip
    return client.post(URL, body, format="json")


@pytest.mark.parametrize(
    "outputs",
    [
        {"exported": 120, "file": "orders.xlsx", "ok": True},
        [{"name": "exported", "value": 120, "type": "int"}, {"name": "file", "value": "orders.xlsx"},
         {"name": "ok", "value": True, "type": "bool"}],
    ],
    ids=["object", "yingdao-list"],
)
def test_outputs_are_stored_shown_and_published(robot_client, operator_client, running_job, outputs, published_events,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert report(robot_client, running_job, outputs).status_code == 200
    expected = {"exported": 120, "file": "orders.xlsx", "ok": True}
    job = Job.objects.get(pk=running_job.pk)
    assert (job.status, job.outputs) == (JobStatus.COMPLETED, expected)
    assert operator_client.get(f"/api/v1/jobs/{job.pk}").json()["outputs"] == expected
    ended = [data for kind, data in published_events if kind == "job_updated" and data["changes"].get("status") == "completed"]
    assert ended and ended[0]["changes"]["outputs"] == expected


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({f"n{i}": i for i in range(101)}, "at most 100 names"),
        ({"blob": "x" * (64 * 1024)}, "over the limit of 65536"),
        ([{"value": 1}], "item 1: must be an object with a name"),
        ("not json", "must be an object"),
        (42, "must be an object"),
    ],
)
def test_outputs_beyond_the_limits_are_400_and_record_nothing(robot_client, running_job, outputs, message):
    answer = report(robot_client, running_job, outputs)
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR")
    assert answer.json()["message"].startswith("outputs: ") and message in answer.json()["message"]
    assert Job.objects.get(pk=running_job.pk).status == JobStatus.RUNNING


def test_a_report_without_outputs_leaves_them_null(robot_client, running_job):
    body = {"shadow_bot_account": "bot_01", "app_name": "daily_report", "status": "completed",
            "start_time": timezone.now().isoformat(), "execution_id": str(running_job.pk)}  # fmt: skip
    assert robot_client.post(URL, body, format="json").status_code == 200
    assert Job.objects.get(pk=running_job.pk).outputs is None


def test_an_alert_about_the_job_carries_its_outputs(robot_client, running_job):
    channel = Channel.objects.create(name="ops", kind="webhook", target="http://127.0.0.1:9/hook",
                                     events=[AlertEvent.JOB_FAILED])  # fmt: skip
    assert report(robot_client, running_job, {"failed_orders": 3, "last_error": "timeout"}, status="failed").status_code == 200
    alert = Alert.objects.get(event=AlertEvent.JOB_FAILED)
    assert alert.context["outputs"] == {"failed_orders": 3, "last_error": "timeout"}
    assert 'failed_orders=3, last_error="timeout"' in alert.message
    from alerts.channels.webhook import body_of

    delivery = Delivery.objects.get(alert=alert, channel=channel)
    assert body_of(delivery)["job"]["outputs"] == {"failed_orders": 3, "last_error": "timeout"}


def test_the_logs_csv_extended_columns_carry_the_jobs_outputs(robot_client, operator_client, running_job):
    report(robot_client, running_job, {"exported": 7, "note": "=cmd"})
    plain = operator_client.get("/api/v1/logs/export")
    extended = operator_client.get("/api/v1/logs/export", {"columns": "extended"})
    assert "outputs" not in b"".join(plain.streaming_content).decode("utf-8-sig").splitlines()[0]
    rows = list(csv.DictReader(io.StringIO(b"".join(extended.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 and json.loads(rows[0]["outputs"]) == {"exported": 7, "note": "=cmd"}
