"""The event stream against the real app under Daphne (API.md §6): causes, format, auth, filter,
replay, heartbeat and status."""

from __future__ import annotations

import datetime
import os
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.db import connection, transaction
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services as account_services
from conftest import WEBHOOK_TOKEN
from rpa_workbench import events

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("roles_synced"),
]

FAST = {"RPA_SSE_HEARTBEAT_SECONDS": "0.5"}


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def stream_url(server) -> str:
    return f"{server.url}/api/v1/sse/events"


@pytest.fixture
def server(live_server_factory):
    return live_server_factory()


# --- opening the stream --------------------------------------------------------------------


def test_the_stream_opens_at_once_with_sse_and_cors_headers(server, sse_readers, viewer_user):
    reader = sse_readers(
        stream_url(server),
        params={"token": str(AccessToken.for_user(viewer_user))},
        headers={"Origin": "http://localhost:3000"},
    )
    assert reader.status == 200
    assert reader.response_headers["Content-Type"].startswith("text/event-stream")
    assert reader.response_headers["Cache-Control"] == "no-cache"
    assert reader.response_headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert reader.response_headers["Access-Control-Allow-Credentials"] == "true"


def test_without_credentials_the_stream_is_refused_with_a_json_401(server):
    response = requests.get(stream_url(server), timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert response.json()["message"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"params": {"token": "not-a-jwt"}},
        {"headers": {"Authorization": "Bearer not-a-jwt"}},
        {"headers": {"X-Webhook-Token": WEBHOOK_TOKEN}},
    ],
    ids=["bad-query-token", "bad-bearer", "robot-secret"],
)
def test_bad_or_foreign_credentials_get_401(server, kwargs):
    response = requests.get(stream_url(server), timeout=10, **kwargs)
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_a_refresh_token_is_not_an_access_token(server, viewer_user):
    from rest_framework_simplejwt.tokens import RefreshToken

    response = requests.get(
        stream_url(server), params={"token": str(RefreshToken.for_user(viewer_user))}, timeout=10
    )
    assert response.status_code == 401


def test_a_user_without_any_role_is_refused_with_403(server, django_user_model):
    nobody = django_user_model.objects.create_user(username="norole", password="pw")
    response = requests.get(stream_url(server), headers=bearer(nobody), timeout=10)
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_viewers_may_listen_with_the_authorization_header(server, sse_readers, viewer_user):
    assert sse_readers(stream_url(server), headers=bearer(viewer_user)).status == 200


def test_a_session_cookie_is_enough(server, sse_readers, admin_user):
    session = requests.Session()
    login_page = session.get(f"{server.url}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    session.post(
        f"{server.url}/admin/login/",
        data={"username": "root", "password": "pw-root", "csrfmiddlewaretoken": csrf, "next": "/admin/"},
        headers={"Referer": f"{server.url}/admin/login/"},
        timeout=10,
    )
    assert "sessionid" in session.cookies
    assert sse_readers(stream_url(server), session=session).status == 200


def test_account_id_must_be_a_uuid_of_an_existing_account(server, admin_user):
    response = requests.get(
        stream_url(server), params={"account_id": "nope"}, headers=bearer(admin_user), timeout=10
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "account_id" in response.json()["message"]
    response = requests.get(
        stream_url(server), params={"account_id": str(uuid.uuid4())}, headers=bearer(admin_user), timeout=10
    )
    assert response.status_code == 404


def test_a_malformed_last_event_id_is_a_400(server, admin_user):
    headers = {**bearer(admin_user), "Last-Event-ID": "garbage"}
    response = requests.get(stream_url(server), headers=headers, timeout=10)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


# --- each cause produces its event ---------------------------------------------------------


def test_an_api_account_change_arrives_as_account_updated_with_only_the_changes(
    server, sse_readers, admin_user, make_account
):
    account = make_account(port=8100)
    reader = sse_readers(stream_url(server), headers=bearer(admin_user))
    response = requests.put(
        f"{server.url}/api/v1/accounts/{account.pk}",
        json={"port": "8200"},
        headers=bearer(admin_user),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    event = reader.next("account_updated")
    assert event.data == {
        "type": "account_updated",
        "data": {
            "account_id": str(account.pk),
            "shadow_bot_account": account.shadow_bot_account,
            "changes": {"port": 8200, "task_control": f"{account.shadow_bot_account}-{account.host_ip}:8200"},
        },
    }
    assert re.fullmatch(r"rpa:\d+", event.id)
    assert f"event: account_updated\nid: {event.id}\ndata: " in event.raw


def test_an_admin_account_change_arrives_as_account_updated(server, sse_readers, admin_user, make_account):
    account = make_account(port=8100, recent_app="")
    reader = sse_readers(stream_url(server), headers=bearer(admin_user))
    session = requests.Session()
    login_page = session.get(f"{server.url}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    session.post(
        f"{server.url}/admin/login/",
        data={"username": "root", "password": "pw-root", "csrfmiddlewaretoken": csrf, "next": "/admin/"},
        timeout=10,
    )
    change_url = f"{server.url}/admin/accounts/account/{account.pk}/change/"
    page = session.get(change_url, timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {
        "csrfmiddlewaretoken": csrf,
        "shadow_bot_account": account.shadow_bot_account,
        "host_ip": account.host_ip,
        "port": "8101",
        # every (read-only) inline's management form, as the page renders it and a browser posts it
        **dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)" value="(\d*)"', page.text)),
    }
    response = session.post(
        change_url, data=form, headers={"Referer": change_url}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 302, response.text[:2000]
    event = reader.next("account_updated", where=lambda e: e.data["data"]["account_id"] == str(account.pk))
    assert event.data["data"]["changes"] == {
        "port": 8101,
        "task_control": f"{account.shadow_bot_account}-{account.host_ip}:8101",
    }


def test_a_webhook_arrives_as_log_created_and_task_updated(
    server, sse_readers, admin_user, make_account, make_task
):
    account = make_account(shadow_bot_account="bot_sse")
    task = make_task(account=account, app_name="daily_report", status="running")
    reader = sse_readers(stream_url(server), headers=bearer(admin_user))
    body = {
        "shadow_bot_account": "bot_sse",
        "app_name": "daily_report",
        "status": "completed",
        "start_time": "2026-01-21 14:30:00",
        "end_time": "2026-01-21 14:42:34",
    }
    response = requests.post(
        f"{server.url}/api/v1/webhook/execution-complete",
        json=body,
        headers={"X-Webhook-Token": WEBHOOK_TOKEN},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    log = reader.next("log_created")
    assert log.data["data"] == {
        "log_id": response.json()["log_id"],
        "shadow_bot_account": "bot_sse",
        "app_name": "daily_report",
        "status": "completed",
    }
    update = reader.next("task_updated", where=lambda e: e.data["data"]["task_id"] == str(task.pk))
    assert update.data["data"]["changes"]["status"] == "pending"
    assert update.data["data"]["app_name"] == "daily_report"


def test_account_id_narrows_the_stream_to_that_account(server, sse_readers, admin_user, make_account):
    watched, other = make_account(port=8101), make_account(port=8102)
    reader = sse_readers(
        stream_url(server), params={"account_id": str(watched.pk).upper()}, headers=bearer(admin_user)
    )
    for account, port in ((other, "9001"), (watched, "9002")):
        response = requests.put(
            f"{server.url}/api/v1/accounts/{account.pk}",
            json={"port": port},
            headers=bearer(admin_user),
            timeout=10,
        )
        assert response.status_code == 200
    event = reader.next()
    assert event.data["data"]["account_id"] == str(watched.pk)
    assert event.id.startswith(f"account-{watched.pk}:")
    reader.none("account_updated", within=1, where=lambda e: e.data["data"]["account_id"] == str(other.pk))


# --- transactions, replay, heartbeat, status -----------------------------------------------


def test_nothing_is_sent_for_a_rolled_back_transaction(server, sse_readers, admin_user, make_account):
    """The test process shares the server's database: a change it rolls back must leave nothing
    to replay, the committed one after it must be the next event."""
    account = make_account(port=8100)
    reader = sse_readers(stream_url(server), headers=bearer(admin_user))
    position = reader.last_id
    assert position
    reader.close()

    with pytest.raises(RuntimeError), transaction.atomic():
        account_services.update_account(account, port=8300)
        raise RuntimeError("roll back")
    account.refresh_from_db()
    account_services.update_account(account, port=8400)

    resumed = sse_readers(stream_url(server), headers={**bearer(admin_user), "Last-Event-ID": position})
    event = resumed.next("account_updated")
    assert event.data["data"]["changes"]["port"] == 8400
    resumed.none("account_updated", within=1)


def test_reconnecting_with_last_event_id_replays_the_missed_events(
    server, sse_readers, admin_user, make_account
):
    account = make_account(port=8100)
    first = sse_readers(stream_url(server), headers=bearer(admin_user))
    requests.put(
        f"{server.url}/api/v1/accounts/{account.pk}",
        json={"port": 8101},
        headers=bearer(admin_user),
        timeout=10,
    )
    seen = first.next("account_updated")
    first.close()
    for port in (8102, 8103):  # missed while disconnected
        requests.put(
            f"{server.url}/api/v1/accounts/{account.pk}",
            json={"port": port},
            headers=bearer(admin_user),
            timeout=10,
        )

    by_header = sse_readers(stream_url(server), headers={**bearer(admin_user), "Last-Event-ID": seen.id})
    assert [by_header.next("account_updated").data["data"]["changes"]["port"] for _ in range(2)] == [
        8102,
        8103,
    ]
    by_query = sse_readers(stream_url(server), params={"lastEventId": seen.id}, headers=bearer(admin_user))
    assert by_query.next("account_updated").data["data"]["changes"]["port"] == 8102


def test_a_last_event_id_older_than_the_retention_gets_a_stream_reset(server, sse_readers, admin_user):
    reader = sse_readers(stream_url(server), headers={**bearer(admin_user), "Last-Event-ID": "rpa:999999"})
    reset = reader.next("stream-reset")
    assert reset.data == {"type": "stream-reset", "data": {"channels": ["rpa"]}}


def test_heartbeats_arrive_at_the_configured_interval_in_the_event_format(
    live_server_factory, sse_readers, viewer_user
):
    server = live_server_factory(env=FAST)
    reader = sse_readers(stream_url(server), headers=bearer(viewer_user))
    beats = [reader.next("heartbeat", timeout=5) for _ in range(2)]
    for beat in beats:
        assert set(beat.data) == {"type", "data"}
        assert beat.data["type"] == "heartbeat"
        stamp = datetime.datetime.fromisoformat(beat.data["data"]["timestamp"])
        assert stamp.tzinfo is not None
        assert re.fullmatch(
            r'event: heartbeat\nid: rpa:\d+\ndata: \{"type": "heartbeat", "data": \{"timestamp": "[^"]+"\}\}',
            beat.raw,
        )
    gap = datetime.datetime.fromisoformat(
        beats[1].data["data"]["timestamp"]
    ) - datetime.datetime.fromisoformat(beats[0].data["data"]["timestamp"])
    assert gap < datetime.timedelta(seconds=5)  # 0.5 s configured; the default would be 30 s


def test_status_counts_connected_clients(server, sse_readers, viewer_user):
    url = f"{server.url}/api/v1/sse/status"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers=bearer(viewer_user), timeout=10).json() == {
        "status": "running",
        "connected_clients": 0,
    }
    reader = sse_readers(stream_url(server), headers=bearer(viewer_user))
    assert reader.last_id  # the stream is registered once it has sent its position
    assert requests.get(url, headers=bearer(viewer_user), timeout=10).json()["connected_clients"] == 1
    reader.close()
    deadline = time.monotonic() + 10
    while requests.get(url, headers=bearer(viewer_user), timeout=10).json()["connected_clients"] != 0:
        assert time.monotonic() < deadline, "the closed stream is still counted"
        time.sleep(0.1)


def open_database_files(pid: int) -> int:
    database = Path(connection.settings_dict["NAME"]).resolve()
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += Path(os.readlink(fd)) == database
        except OSError:
            continue
    return count


@pytest.mark.skipif(connection.vendor != "sqlite", reason="counts open SQLite files of the server process")
def test_idle_streams_hold_no_database_connection(live_server_factory, sse_readers, viewer_user):
    """The server's own connections (one per request thread, kept; the background loops') are
    all it has: twelve open streams add none, and hold no request thread either."""
    server = live_server_factory(env={**FAST, "RPA_REQUEST_THREADS": "2"})
    readers = [sse_readers(stream_url(server), headers=bearer(viewer_user)) for _ in range(12)]
    for reader in readers:
        reader.next("heartbeat", timeout=5)  # each has done its storage read and is waiting
    before = open_database_files(server.process.pid)
    assert before <= 2 + 4  # two request threads, and the embedded loops (scheduler, dispatcher…)
    health = requests.get(f"{server.url}/health", timeout=5)  # a request thread is free
    assert health.status_code == 200
    assert open_database_files(server.process.pid) <= 2 + 4


def test_a_publish_without_transaction_reaches_the_stream_too(server, sse_readers, admin_user, make_account):
    """Outside any transaction an event is sent at once (on_commit runs immediately)."""
    account = make_account(port=8100)
    reader = sse_readers(stream_url(server), headers=bearer(admin_user))
    response = requests.delete(
        f"{server.url}/api/v1/accounts/{account.pk}", headers=bearer(admin_user), timeout=10
    )
    assert response.status_code == 200
    assert reader.next("account_updated").data["data"]["changes"] == {"deleted": True}
    assert events.ALL_CHANNEL == "rpa"
