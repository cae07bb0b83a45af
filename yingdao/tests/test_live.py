"""The whole loop with real processes: Daphne, the fake Yingdao tenant calling back over HTTP,
and the event stream: an API start of a `yingdao` task ends `completed`."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

pytest.importorskip("jobs.transitions", reason="needs the jobs app")

import conftest  # noqa: E402
from jobs.models import Job  # noqa: E402
from rpa_workbench.testing.servers import stop
from rpa_workbench.testing.sse import open_stream, payloads  # noqa: E402
from yingdao.testing import http_deliver, start_fake_yingdao  # noqa: E402
from yingdao.tests.conftest import KEY_ID, KEY_SECRET  # noqa: E402

PUBLIC_URL = "http://rpa.example.test"  # what Yingdao is told; the fake reaches Daphne behind it


def test_an_api_start_of_a_yingdao_task_ends_completed_and_is_seen_on_the_stream(
    live_server_factory, make_account, make_task, admin_user
):
    server_holder: list = []

    def through_the_public_address(url: str, body: dict) -> int:
        parts = urlsplit(url)
        return http_deliver(f"{server_holder[0].url}{parts.path}?{parts.query}", body)

    fake, fake_server = start_fake_yingdao(
        key_id=KEY_ID, key_secret=KEY_SECRET, autorun=True, run_seconds=1.0, deliver=through_the_public_address
    )
    try:
        server = live_server_factory(env={
            "RPA_YINGDAO_API_URL": fake.url,
            "RPA_YINGDAO_ACCESS_KEY_ID": KEY_ID,
            "RPA_YINGDAO_ACCESS_KEY_SECRET": KEY_SECRET,
            "RPA_PUBLIC_URL": PUBLIC_URL,
            "RPA_EMBEDDED_SCHEDULER": "true",
        })  # fmt: skip
        server_holder.append(server)
        account = make_account(dispatch_backend="yingdao", yingdao_account_name="bot@corp")
        task = make_task(account=account, yingdao_robot_uuid="app-uuid-live")
        token = str(AccessToken.for_user(admin_user))
        events = open_stream(server.url, token)

        response = requests.post(
            f"{server.url}/api/v1/tasks/{task.pk}/start", headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        assert response.status_code == 200, response.text
        job_id = response.json()["job_id"]

        wanted = {"job_updated:running", "job_updated:completed", "log_created"}
        for payload in payloads(events):
            data = payload.get("data", {})
            if payload.get("type") == "job_updated" and data.get("job_id") == job_id:
                wanted.discard(f"job_updated:{data.get('status')}")
            elif payload.get("type") == "log_created" and data.get("app_name") == task.app_name:
                wanted.discard("log_created")
            if not wanted:
                break
        assert not wanted, f"never saw {wanted} on the stream\n{server.log()}"
        job = Job.objects.get(pk=job_id)
        assert job.status == "completed" and job.execution_log_id is not None
        assert len(fake.jobs) == 1
        log = server.log()
        assert "POST /api/v1/webhook/yingdao?token=[redacted]" in log  # the access log saw the callbacks
        assert KEY_SECRET not in log and conftest.WEBHOOK_TOKEN not in log
    finally:
        stop(fake_server)
