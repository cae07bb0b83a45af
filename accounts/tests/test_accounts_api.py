"""API.md §1: robot accounts."""

from __future__ import annotations

import pytest

from accounts.models import Account
from rpa_workbench.testing.threads import run_together

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts"


def create(client, **fields):
    body = {"shadow_bot_account": "bot_01", "host_ip": "192.168.1.100", "port": 8000, **fields}
    return client.post(URL, body, format="json")


def test_create_returns_the_account_object(operator_client):
    response = create(operator_client, recent_app="daily_report")
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], str) and len(body["id"]) == 36
    assert body["task_control"] == "bot_01-192.168.1.100:8000"
    assert body["status"] == "pending"
    assert body["recent_app"] == "daily_report"
    assert body["end_time"] is None
    assert body["task_count"] == 0
    for key in ("created_at", "updated_at", "last_heartbeat_at"):
        assert key in body


def test_numeric_strings_are_accepted(operator_client):
    response = create(operator_client, port="9548")
    assert response.status_code == 201
    assert response.json()["port"] == 9548


def test_ipv6_hosts_are_accepted(operator_client):
    response = create(operator_client, host_ip="2001:db8::1")
    assert response.status_code == 201
    assert response.json()["task_control"] == "bot_01-2001:db8::1:8000"


@pytest.mark.parametrize("host_ip", ["999.1.1.1", "not-an-ip", "", "10.0.0"])
def test_invalid_host_ip_is_400_naming_the_field(operator_client, host_ip):
    response = create(operator_client, host_ip=host_ip)
    assert response.status_code == 400
    assert response.json()["message"].startswith("host_ip:")


@pytest.mark.parametrize("port", [0, 65536, -1, "abc", 1.5])
def test_port_out_of_range_is_400(operator_client, port):
    response = create(operator_client, port=port)
    assert response.status_code == 400
    assert response.json()["message"].startswith("port:")


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds_are_allowed(operator_client, port):
    assert create(operator_client, port=port).status_code == 201


def test_missing_name_is_400(operator_client):
    response = operator_client.post(URL, {"host_ip": "10.0.0.1", "port": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("shadow_bot_account:")


def test_bad_status_is_400(operator_client):
    assert create(operator_client, status="sleeping").status_code == 400


def test_duplicate_is_409_account_exists(operator_client):
    assert create(operator_client).status_code == 201
    response = create(operator_client)
    assert response.status_code == 409
    assert response.json()["code"] == "ACCOUNT_EXISTS"
    assert Account.objects.count() == 1


def test_update_recomputes_task_control(operator_client):
    account_id = create(operator_client).json()["id"]
    response = operator_client.patch(f"{URL}/{account_id}", {"port": "9000", "host_ip": "10.0.0.9"}, format="json")
    assert response.status_code == 200
    assert response.json()["task_control"] == "bot_01-10.0.0.9:9000"
    assert Account.objects.get(pk=account_id).task_control == "bot_01-10.0.0.9:9000"


def test_update_into_an_existing_identity_is_409(operator_client):
    create(operator_client)
    other = create(operator_client, port=8001).json()["id"]
    response = operator_client.put(f"{URL}/{other}", {"port": 8000}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "ACCOUNT_EXISTS"
    assert Account.objects.get(pk=other).port == 8001


def test_task_control_is_read_only(operator_client):
    account_id = create(operator_client).json()["id"]
    operator_client.patch(f"{URL}/{account_id}", {"task_control": "hacked"}, format="json")
    assert Account.objects.get(pk=account_id).task_control == "bot_01-192.168.1.100:8000"


def test_task_count_counts_bound_tasks(operator_client, make_account, make_task):
    account = make_account()
    make_task(account=account)
    make_task(account=account)
    make_task()
    body = operator_client.get(f"{URL}/{account.pk}").json()
    assert body["task_count"] == 2
    listed = {item["id"]: item["task_count"] for item in operator_client.get(URL).json()["items"]}
    assert listed[str(account.pk)] == 2


def test_delete_with_bound_tasks_is_409(operator_client, make_account, make_task):
    account = make_account()
    make_task(account=account)
    response = operator_client.delete(f"{URL}/{account.pk}")
    assert response.status_code == 409
    assert response.json()["code"] == "ACCOUNT_HAS_TASKS"
    assert Account.objects.filter(pk=account.pk).exists()


def test_delete_without_tasks_removes_the_account(operator_client, make_account):
    account = make_account()
    assert operator_client.delete(f"{URL}/{account.pk}").status_code == 200
    assert not Account.objects.filter(pk=account.pk).exists()


def test_filters_status_and_host_ip(operator_client, make_account):
    make_account(shadow_bot_account="a", host_ip="10.0.0.1", status="running")
    make_account(shadow_bot_account="b", host_ip="10.0.0.2", status="failed")
    running = operator_client.get(f"{URL}?status=running").json()
    assert [item["shadow_bot_account"] for item in running["items"]] == ["a"]
    by_host = operator_client.get(f"{URL}?host_ip=10.0.0.2").json()
    assert [item["shadow_bot_account"] for item in by_host["items"]] == ["b"]


def test_unknown_status_filter_is_400(operator_client):
    response = operator_client.get(f"{URL}?status=foo")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("term", "expected"), [("alpha", "alpha"), ("10.9.9", "beta"), ("invoice", "gamma"), (":7001", "delta")])
def test_search_covers_name_host_recent_app_and_task_control(operator_client, make_account, term, expected):
    make_account(shadow_bot_account="alpha", host_ip="10.0.0.1", port=7000)
    make_account(shadow_bot_account="beta", host_ip="10.9.9.9", port=7000)
    make_account(shadow_bot_account="gamma", host_ip="10.0.0.3", port=7000, recent_app="invoice_sync")
    make_account(shadow_bot_account="delta", host_ip="10.0.0.4", port=7001)
    names = [item["shadow_bot_account"] for item in operator_client.get(f"{URL}?search={term}").json()["items"]]
    assert names == [expected]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_creates_give_one_201_and_409s(operator_user):
    """Real threads, each with its own database connection, on the file-backed test database."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    token = str(AccessToken.for_user(operator_user))
    clients = [APIClient() for _ in range(8)]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    statuses = run_together([lambda client=client: create(client).status_code for client in clients])
    assert sorted(statuses) == [201] + [409] * 7
    assert Account.objects.count() == 1
