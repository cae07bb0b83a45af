"""The scale-out layout (docs/production.md): Pushpin in front of two Daphne processes on
PostgreSQL holds the event streams; an event published by any process — either server, or a
management command — reaches a subscriber connected through Pushpin, with the same payload and
`<channel>:<id>` ids as the in-process stream, and `Last-Event-ID` replays what it missed.

Skipped unless Pushpin is installed and the tests run on PostgreSQL (.ci/run's PostgreSQL phase)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import requests
from django.conf import settings
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from rpa_workbench import scaleout
from rpa_workbench.testing import live_server

pytestmark = [
    pytest.mark.live,
    pytest.mark.pushpin,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("roles_synced"),
]


@pytest.fixture
def layout_env():
    return {}


@pytest.fixture
def layout(transactional_db, tmp_path, layout_env):
    if shutil.which("pushpin") is None:
        pytest.skip("pushpin is not installed (apt-get install pushpin)")
    if connection.vendor != "postgresql":
        pytest.skip("the scale-out layout runs on PostgreSQL (DATABASE_URL=postgres://…)")
    env = {
        "DATABASE_URL": live_server.test_database_url(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "RPA_VAR_DIR": str(tmp_path / "var"),
        "RPA_EMBEDDED_SCHEDULER": "false",
        **layout_env,
    }
    running = scaleout.start(servers=2, extra_env=env, work_dir=tmp_path / "layout")
    yield running, env
    running.stop()


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def change_port(url: str, user, account, port: int) -> None:
    response = requests.put(f"{url}/api/v1/accounts/{account.pk}", json={"port": port}, headers=bearer(user), timeout=10)
    assert response.status_code == 200, response.text


def run_command(code: str, env: dict[str, str], publish_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env=scaleout.server_env(publish_url, env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def ports_of(reader, count: int) -> list[int]:
    return [reader.next("account_updated").data["data"]["changes"]["port"] for _ in range(count)]


def test_events_from_either_server_and_a_command_reach_a_subscriber_through_pushpin(
    layout, sse_readers, admin_user, make_account
):
    running, env = layout
    account = make_account(port=8100)
    reader = sse_readers(f"{running.url}/api/v1/sse/events", headers=bearer(admin_user))
    assert reader.status == 200
    for port, server_url in zip((8101, 8102), running.server_urls, strict=True):
        change_port(server_url, admin_user, account, port)  # straight to each Daphne
    code = (
        "from accounts.models import Account; from accounts import services; "
        f"services.update_account(Account.objects.get(pk='{account.pk}'), port=8103)"
    )
    run_command(code, env, running.publish_url)
    events = [reader.next("account_updated") for _ in range(3)]
    assert [event.data["data"]["changes"]["port"] for event in events] == [8101, 8102, 8103]
    assert all(event.id.startswith("rpa:") for event in events)
    assert events[0].data["data"]["account_id"] == str(account.pk)

    watched = sse_readers(
        f"{running.url}/api/v1/sse/events", params={"account_id": str(account.pk)}, headers=bearer(admin_user)
    )
    change_port(running.url, admin_user, account, 8104)  # through Pushpin as well
    event = watched.next("account_updated")
    assert event.id.startswith(f"account-{account.pk}:")
    assert reader.next("account_updated").id.split(":")[1] == event.id.split(":")[1]  # one event, one id


def test_a_subscriber_reconnecting_through_pushpin_replays_what_it_missed(
    layout, sse_readers, admin_user, make_account
):
    running, _ = layout
    account = make_account(port=8100)
    first = sse_readers(f"{running.url}/api/v1/sse/events", headers=bearer(admin_user))
    change_port(running.server_urls[0], admin_user, account, 8101)
    seen = first.next("account_updated")
    first.close()
    change_port(running.server_urls[1], admin_user, account, 8102)  # missed while away
    resumed = sse_readers(f"{running.url}/api/v1/sse/events", headers={**bearer(admin_user), "Last-Event-ID": seen.id})
    assert ports_of(resumed, 1) == [8102]
    change_port(running.server_urls[0], admin_user, account, 8103)  # and live again after the replay
    assert ports_of(resumed, 1) == [8103]



@pytest.mark.parametrize("layout_env", [{"RPA_SSE_HEARTBEAT_SECONDS": "1"}])
def test_held_streams_get_one_heartbeat_per_interval_however_many_servers_publish_it(
    layout, sse_readers, admin_user
):
    running, _ = layout
    reader = sse_readers(f"{running.url}/api/v1/sse/events", headers=bearer(admin_user))
    beats = [reader.next("heartbeat", timeout=10) for _ in range(4)]
    # Published at each interval's boundary by both servers (same second): one gets through.
    seconds = [event.data["data"]["timestamp"][:19] for event in beats]
    assert len(set(seconds)) == 4, seconds
