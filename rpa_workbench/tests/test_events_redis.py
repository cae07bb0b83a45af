"""Several server processes sharing a local Redis (EVENTSTREAM_REDIS_URL): an event published in
one process reaches subscribers connected to another (API.md §6, README "several processes")."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from rpa_workbench.testing import live_server

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("roles_synced"),
]


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def run_in_another_process(code: str, redis_url: str, tmp_path) -> None:
    """Run Django code in a `manage.py shell -c` subprocess on the test database and Redis."""
    env = {
        **os.environ,
        "DATABASE_URL": live_server.test_database_url(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "EVENTSTREAM_REDIS_URL": redis_url,
        "RPA_VAR_DIR": str(tmp_path / "var"),
        "RPA_EMBEDDED_SCHEDULER": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_change_made_by_a_management_process_reaches_a_subscriber_of_the_server(
    live_server_factory, local_redis, sse_readers, admin_user, make_account, tmp_path
):
    server = live_server_factory(env={"EVENTSTREAM_REDIS_URL": local_redis.url})
    account = make_account(port=8100)
    reader = sse_readers(f"{server.url}/api/v1/sse/events", headers=bearer(admin_user))
    code = (
        "from accounts.models import Account; from accounts import services; "
        # port: an operator-editable field (update_account never writes robot-owned ones such as recent_app)
        f"services.update_account(Account.objects.get(pk='{account.pk}'), port=8300)"
    )
    run_in_another_process(code, local_redis.url, tmp_path)
    event = reader.next(
        "account_updated", timeout=30, where=lambda e: e.data["data"]["account_id"] == str(account.pk)
    )
    assert event.data["data"]["changes"] == {"port": 8300, "task_control": f"{account.shadow_bot_account}-{account.host_ip}:8300"}


def test_a_change_made_through_one_server_reaches_subscribers_of_another(
    live_server_factory, local_redis, sse_readers, admin_user, make_account
):
    env = {"EVENTSTREAM_REDIS_URL": local_redis.url}
    first, second = live_server_factory(env=env), live_server_factory(env=env)
    account = make_account(port=8100)
    on_first = sse_readers(f"{first.url}/api/v1/sse/events", headers=bearer(admin_user))
    on_second_filtered = sse_readers(
        f"{second.url}/api/v1/sse/events", params={"account_id": str(account.pk)}, headers=bearer(admin_user)
    )
    response = requests.put(
        f"{second.url}/api/v1/accounts/{account.pk}",
        json={"port": 8200},
        headers=bearer(admin_user),
        timeout=15,
    )
    assert response.status_code == 200, response.text
    for reader in (on_first, on_second_filtered):
        event = reader.next("account_updated", timeout=30)
        assert event.data["data"]["account_id"] == str(account.pk)
        assert event.data["data"]["changes"]["port"] == 8200


def test_status_counts_the_clients_of_every_server_sharing_redis(
    live_server_factory, local_redis, sse_readers, viewer_user
):
    env = {"EVENTSTREAM_REDIS_URL": local_redis.url}
    first, second = live_server_factory(env=env), live_server_factory(env=env)
    sse_readers(f"{first.url}/api/v1/sse/events", headers=bearer(viewer_user))
    sse_readers(f"{second.url}/api/v1/sse/events", headers=bearer(viewer_user))
    deadline = time.monotonic() + 30
    while True:
        counts = [
            requests.get(f"{server.url}/api/v1/sse/status", headers=bearer(viewer_user), timeout=15).json()
            for server in (first, second)
        ]
        if all(count["connected_clients"] == 2 for count in counts):
            break
        assert time.monotonic() < deadline, f"status never counted both servers' clients: {counts}"
        time.sleep(0.2)
    assert counts[0]["status"] == "running"
