"""Every kind of state change reaches a live event stream under Daphne (API.md §6): accounts and
tasks through the API and the admin, control actions, and each robot webhook."""

from __future__ import annotations

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from conftest import WEBHOOK_TOKEN

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("roles_synced"),
]

ROBOT = {"X-Webhook-Token": WEBHOOK_TOKEN}


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


@pytest.fixture
def server(live_server_factory):
    return live_server_factory()


@pytest.fixture
def stream(server, sse_readers, admin_user):
    """An open stream of every event, read as the admin."""
    return sse_readers(f"{server.url}/api/v1/sse/events", headers=bearer(admin_user))


def of_account(account_id) -> callable:
    """That account's updates, leaving out presence announcements (accounts/tests/test_presence.py)."""
    return lambda event: event.data["data"].get("account_id") == str(account_id) and set(
        event.data["data"].get("changes", {})
    ) != {"presence"}


def of_task(task_id) -> callable:
    return lambda event: event.data["data"].get("task_id") == str(task_id)


# --- accounts ------------------------------------------------------------------------------


def test_accounts_created_and_deleted_through_the_api_arrive_as_account_updated(server, stream, admin_user):
    body = {"shadow_bot_account": "bot_new", "host_ip": "10.9.0.1", "port": 8123}
    response = requests.post(
        f"{server.url}/api/v1/accounts", json=body, headers=bearer(admin_user), timeout=15
    )
    assert response.status_code == 201, response.text
    account_id = response.json()["id"]
    created = stream.next("account_updated", where=of_account(account_id))
    assert created.data["data"]["shadow_bot_account"] == "bot_new"
    assert created.data["data"]["changes"]["created"] is True
    assert created.data["data"]["changes"]["port"] == 8123

    response = requests.delete(
        f"{server.url}/api/v1/accounts/{account_id}", headers=bearer(admin_user), timeout=15
    )
    assert response.status_code < 300, response.text
    deleted = stream.next("account_updated", where=of_account(account_id))
    assert deleted.data["data"]["changes"] == {"deleted": True}


def test_accounts_added_and_deleted_in_the_admin_arrive_as_account_updated(server, stream, admin_session):
    from accounts.models import Account

    admin = admin_session(server)
    form = {
        "shadow_bot_account": "bot_admin",
        "host_ip": "10.9.0.2",
        "port": "8124",
        "status": "pending",
        "recent_app": "",
    }
    admin.submit("/admin/accounts/account/add/", {**form, "_save": "Save"})
    account = Account.objects.get(shadow_bot_account="bot_admin")
    created = stream.next("account_updated", where=of_account(account.pk))
    assert created.data["data"]["changes"]["created"] is True

    admin.submit(f"/admin/accounts/account/{account.pk}/delete/", {"post": "yes"})
    deleted = stream.next("account_updated", where=of_account(account.pk))
    assert deleted.data["data"]["changes"] == {"deleted": True}


# --- tasks ---------------------------------------------------------------------------------


def test_tasks_created_edited_and_deleted_through_the_api_arrive_as_task_updated(
    server, stream, admin_user, make_account
):
    make_account(shadow_bot_account="bot_t", host_ip="10.9.0.3", port=8000)
    body = {
        "task_name": "Daily",
        "shadow_bot_account": "bot_t",
        "host_ip": "10.9.0.3",
        "app_name": "daily_report",
    }
    response = requests.post(f"{server.url}/api/v1/tasks", json=body, headers=bearer(admin_user), timeout=15)
    assert response.status_code == 201, response.text
    task_id = response.json()["id"]
    created = stream.next("task_updated", where=of_task(task_id))
    assert created.data["data"]["app_name"] == "daily_report"
    assert created.data["data"]["shadow_bot_account"] == "bot_t"
    assert created.data["data"]["changes"]["created"] is True

    response = requests.patch(
        f"{server.url}/api/v1/tasks/{task_id}",
        json={"remark": "edited"},
        headers=bearer(admin_user),
        timeout=15,
    )
    assert response.status_code == 200, response.text
    edited = stream.next("task_updated", where=of_task(task_id))
    assert edited.data["data"]["changes"] == {"remark": "edited"}

    response = requests.delete(f"{server.url}/api/v1/tasks/{task_id}", headers=bearer(admin_user), timeout=15)
    assert response.status_code < 300, response.text
    deleted = stream.next("task_updated", where=of_task(task_id))
    assert deleted.data["data"]["changes"] == {"deleted": True}


def test_a_force_stop_through_the_api_arrives_for_the_task_and_its_account(
    server, stream, admin_user, make_account, make_task
):
    account = make_account(status="running", recent_app="daily_report")
    task = make_task(account=account, app_name="daily_report", status="running")
    response = requests.post(
        f"{server.url}/api/v1/tasks/{task.pk}/force-stop",
        params={"force": "true"},
        headers=bearer(admin_user),
        timeout=15,
    )
    assert response.status_code == 200, response.text
    assert stream.next("task_updated", where=of_task(task.pk)).data["data"]["changes"] == {
        "status": "pending"
    }
    assert stream.next("account_updated", where=of_account(account.pk)).data["data"]["changes"] == {
        "status": "pending"
    }


def test_a_force_stop_action_in_the_admin_arrives_as_task_updated(
    server, stream, admin_session, make_account, make_task
):
    task = make_task(account=make_account(status="running"), status="running")
    admin = admin_session(server)
    form = {
        "action": "force_stop_selected",
        "_selected_action": str(task.pk),
        "select_across": "0",
        "index": "0",
    }
    admin.submit("/admin/tasks/task/", form)
    assert stream.next("task_updated", where=of_task(task.pk)).data["data"]["changes"] == {
        "status": "pending"
    }


def test_a_task_deleted_in_the_admin_arrives_as_task_updated(server, stream, admin_session, make_task):
    task = make_task()
    admin_session(server).submit(f"/admin/tasks/task/{task.pk}/delete/", {"post": "yes"})
    assert stream.next("task_updated", where=of_task(task.pk)).data["data"]["changes"] == {"deleted": True}


# --- robot webhooks ------------------------------------------------------------------------


def test_confirmed_start_and_stop_arrive_as_task_and_account_updates(server, stream, make_account, make_task):
    account = make_account(shadow_bot_account="bot_c")
    task = make_task(account=account, app_name="daily_report")
    url = f"{server.url}/api/v1/webhook/confirm"

    body = {"shadow_bot_account": "bot_c", "app_name": "daily_report", "action": "START"}
    assert requests.post(url, json=body, headers=ROBOT, timeout=15).status_code == 200
    started = stream.next("task_updated", where=of_task(task.pk)).data["data"]["changes"]
    assert started["status"] == "running"
    assert started["last_run_time"]
    running = stream.next("account_updated", where=of_account(account.pk)).data["data"]["changes"]
    assert running["status"] == "running"

    body["action"] = "STOP"
    assert requests.post(url, json=body, headers=ROBOT, timeout=15).status_code == 200
    assert stream.next("task_updated", where=of_task(task.pk)).data["data"]["changes"] == {
        "status": "pending"
    }
    assert stream.next("account_updated", where=of_account(account.pk)).data["data"]["changes"] == {
        "status": "pending"
    }


def test_a_heartbeat_arrives_as_account_updated(server, stream, make_account, make_task):
    account = make_account(shadow_bot_account="bot_h")
    make_task(account=account, app_name="nightly")
    body = {"shadow_bot_account": "bot_h", "app_name": "nightly"}
    response = requests.post(f"{server.url}/api/v1/webhook/heartbeat", json=body, headers=ROBOT, timeout=15)
    assert response.status_code == 200, response.text
    changes = stream.next("account_updated", where=of_account(account.pk)).data["data"]["changes"]
    assert changes["status"] == "running"
    assert changes["recent_app"] == "nightly"


def test_a_completed_execution_arrives_as_log_created_and_account_and_task_updates(
    server, stream, make_account, make_task
):
    account = make_account(shadow_bot_account="bot_x", status="running")
    task = make_task(account=account, app_name="daily_report", status="running")
    body = {
        "shadow_bot_account": "bot_x",
        "app_name": "daily_report",
        "status": "failed",
        "start_time": "2026-01-21T14:30:00+08:00",
        "end_time": "2026-01-21T14:42:34+08:00",
    }
    response = requests.post(
        f"{server.url}/api/v1/webhook/execution-complete", json=body, headers=ROBOT, timeout=15
    )
    assert response.status_code == 200, response.text
    log = stream.next("log_created")
    assert log.data["data"] == {
        "log_id": response.json()["log_id"],
        "shadow_bot_account": "bot_x",
        "app_name": "daily_report",
        "status": "failed",
    }
    account_changes = stream.next("account_updated", where=of_account(account.pk)).data["data"]["changes"]
    assert account_changes["status"] == "failed"
    assert account_changes["end_time"].startswith("2026-01-21T")
    task_changes = stream.next("task_updated", where=of_task(task.pk)).data["data"]["changes"]
    assert task_changes["status"] == "pending"
    assert task_changes["last_run_time"].startswith("2026-01-21T")
