"""A relay robot reads the job it runs and that job's inputs from `config/get` (API.md §11): the
relay's GET cannot carry them. Secrets in clear (the robot needs them); a stored file as a
signed URL it can download."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs.models import JobStatus
from jobs.tests.conftest import build_job

pytestmark = pytest.mark.django_db

GET_CONFIG = "/api/v1/resources/config/get"
INPUTS = [
    {"name": "order_date", "type": "str", "value": "2026-01-21", "secret": False},
    {"name": "password", "type": "str", "value": "hunter2", "secret": True},
    {"name": "sheet", "type": "file", "value": "/api/v1/resources/inputs/orders.xlsx", "secret": False},
    {"name": "remote", "type": "file", "value": "https://bucket.oss-cn-shenzhen.aliyuncs.com/a.csv", "secret": False},
]


@pytest.fixture
def task(make_account, make_task):
    return make_task(account=make_account(shadow_bot_account="bot_01"), app_name="export_orders", config_json='{"a": 1}')


def ask(client):
    return client.post(GET_CONFIG, {"shadow_bot_account": "bot_01", "app_name": "export_orders"}, format="json")


@pytest.mark.parametrize("status", [JobStatus.DISPATCHED, JobStatus.RUNNING])
def test_the_robot_reads_its_current_job_and_inputs(robot_client, client, task, status):
    default_storage.save("inputs/orders.xlsx", ContentFile(b"PK\x03\x04 orders"))
    job = build_job(task, status, dispatched_at=timezone.now(), inputs=INPUTS)
    body = ask(robot_client).json()
    assert body["config_json"] == '{"a": 1}' and body["job_id"] == str(job.pk)
    assert body["secret_inputs"] == ["password"]
    inputs = body["inputs"]
    assert {k: inputs[k] for k in ("order_date", "password", "remote")} == {
        "order_date": "2026-01-21", "password": "hunter2", "remote": "https://bucket.oss-cn-shenzhen.aliyuncs.com/a.csv",
    }  # fmt: skip
    assert inputs["sheet"].startswith("http://testserver/api/v1/resources/inputs/orders.xlsx?sig=")
    download = client.get(inputs["sheet"].removeprefix("http://testserver"))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"PK\x03\x04 orders"


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.COMPLETED])
def test_no_current_job_answers_nulls(robot_client, task, status):
    build_job(task, status, inputs=INPUTS)
    body = ask(robot_client).json()
    assert (body["job_id"], body["inputs"], body["secret_inputs"]) == (None, None, [])


def test_config_get_still_needs_the_webhook_secret(anon_client, task):
    assert ask(anon_client).status_code == 401
