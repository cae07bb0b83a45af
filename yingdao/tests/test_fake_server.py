"""The fake tenant itself behaves as the Open API does (what the other tests rely on)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import requests

from rpa_workbench.testing import live_server
from rpa_workbench.testing.servers import stop
from yingdao import client as client_module
from yingdao.testing import start_fake_yingdao


def test_a_repeated_idempotent_uuid_returns_the_same_job_and_counts_one(fake_yingdao):
    api = client_module.client()
    body = {"robotUuid": "app-1", "accountName": "bot@corp", "idempotentUuid": "same"}
    first, again = api.start_job(body).data, api.start_job(body).data
    assert first["jobUuid"] == again["jobUuid"]
    assert (first["idempotentFlag"], again["idempotentFlag"]) == (False, True)
    assert len(fake_yingdao.jobs) == 1


def test_autorun_jobs_call_back_in_both_shapes_with_a_duplicate_and_a_late_one():
    received: list[dict] = []
    fake, server = start_fake_yingdao(autorun=True, run_seconds=0.1, deliver=lambda url, body: received.append(body) or 200)
    try:
        fake.limits["job/start"] = 100
        token = requests.get(
            f"{fake.url}/oapi/token/v2/token/create",
            params={"accessKeyId": fake.key_id, "accessKeySecret": fake.key_secret},
            timeout=5,
        ).json()["data"]["accessToken"]
        for n in range(2):
            requests.post(
                f"{fake.url}/oapi/dispatch/v2/job/start",
                json={"robotUuid": "app", "accountName": "bot", "idempotentUuid": str(n), "callbackUrl": "http://cb"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
        deadline = time.monotonic() + 10
        while len(received) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(server)
    assert {body["dataType"] for body in received} == {"job", "task"}
    statuses = [body.get("status") for body in received]
    assert statuses.count("finish") == 4  # each job's end, twice
    assert statuses[-1] == "running" or "running" in statuses[statuses.index("finish") :]  # late, out of order


def test_the_management_command_serves_the_api_listing_the_workbenchs_robots(transactional_db, make_account, tmp_path):
    make_account(dispatch_backend="yingdao", yingdao_account_name="known@corp")
    port = live_server.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": live_server.test_database_url(),
        "RPA_VAR_DIR": str(tmp_path),
        "RPA_YINGDAO_ACCESS_KEY_ID": "id",
        "RPA_YINGDAO_ACCESS_KEY_SECRET": "secret",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_yingdao", "--port", str(port), "--extra-clients", "new@corp"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        assert lines and f"fake Yingdao Open API on http://127.0.0.1:{port}" in lines[0]
        base = f"http://127.0.0.1:{port}"
        token = requests.get(
            f"{base}/oapi/token/v2/token/create", params={"accessKeyId": "id", "accessKeySecret": "secret"}, timeout=5
        ).json()["data"]["accessToken"]
        listed = requests.post(
            f"{base}/oapi/dispatch/v2/client/list",
            json={"page": 1, "size": 10},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        assert [robot["robotClientName"] for robot in listed["data"]] == ["known@corp", "new@corp"]
        assert listed["page"]["total"] == 2
    finally:
        process.terminate()
        process.wait(10)
