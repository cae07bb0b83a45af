"""The tasks REST API (API.md §2): CRUD, account binding, validation, filters and roles."""

from __future__ import annotations

import json
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from tasks.models import Task, TaskStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks"


def body(**overrides):
    data = {
        "task_name": "Daily report",
        "shadow_bot_account": "bot_01",
        "host_ip": "192.168.1.100",
        "app_name": "daily_report",
        "config_info": True,
        "config_json": '{"shop": "A"}',
    }
    data.update(overrides)
    return data


@pytest.fixture
def account(make_account):
    return make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)


# --- create ------------------------------------------------------------------------------------


def test_create_binds_the_task_to_the_named_account_and_answers_the_task_object(operator_client, account):
    response = operator_client.post(URL, body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) >= {
        "id", "task_name", "shadow_bot_account", "host_ip", "app_name", "last_run_time", "status",
        "config_file", "config_info", "config_file_path", "config_json", "trigger_time", "remark",
        "account_port", "created_at", "updated_at", "account_id",
    }  # fmt: skip
    assert data["shadow_bot_account"] == "bot_01"
    assert data["host_ip"] == "192.168.1.100"
    assert data["account_port"] == 8000
    assert data["account_id"] == str(account.pk)
    assert data["status"] == "pending"
    assert data["config_json"] == '{"shop": "A"}'
    assert Task.objects.get(pk=data["id"]).account == account


def test_create_by_account_id_works_too(operator_client, account):
    response = operator_client.post(
        URL, {"task_name": "T", "app_name": "x", "account_id": str(account.pk)}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["shadow_bot_account"] == "bot_01"


def test_create_for_an_unknown_account_is_a_400_naming_the_field(operator_client, account):
    response = operator_client.post(URL, body(shadow_bot_account="nobody"), format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert "shadow_bot_account" in error["details"]
    assert not Task.objects.exists()


def test_create_without_an_account_names_the_missing_field(operator_client, account):
    response = operator_client.post(URL, {"task_name": "T", "app_name": "x"}, format="json")
    assert response.status_code == 400
    assert "shadow_bot_account" in response.json()["details"]


def test_one_name_on_several_ports_needs_account_port(operator_client, account, make_account):
    other = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8001)
    ambiguous = operator_client.post(URL, body(), format="json")
    assert ambiguous.status_code == 400
    assert "account_port" in ambiguous.json()["details"]
    chosen = operator_client.post(URL, body(account_port=8001), format="json")
    assert chosen.status_code == 201
    assert chosen.json()["account_id"] == str(other.pk)


def test_second_task_for_the_same_app_on_an_account_is_409_task_exists(operator_client, account, make_task):
    make_task(account, app_name="daily_report")
    response = operator_client.post(URL, body(app_name="DAILY_REPORT"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "TASK_EXISTS"
    assert Task.objects.count() == 1


def test_the_same_app_on_another_account_is_fine(operator_client, account, make_account, make_task):
    make_task(make_account(), app_name="daily_report")
    assert operator_client.post(URL, body(), format="json").status_code == 201


def test_the_database_refuses_a_case_variant_duplicate_too(account, make_task):
    from django.db import IntegrityError, transaction

    make_task(account, app_name="daily_report")
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(account=account, task_name="dup", app_name="Daily_Report")


@pytest.mark.parametrize("bad", ["{shop: A}", "{", "[1,]", "not json"])
def test_config_json_must_be_valid_json(operator_client, account, bad):
    response = operator_client.post(URL, body(config_json=bad), format="json")
    assert response.status_code == 400
    assert "config_json" in response.json()["details"]
    assert not Task.objects.exists()


def test_config_json_sent_as_an_object_is_stored_as_its_json_text(operator_client, account):
    response = operator_client.post(URL, body(config_json={"shop": "店铺A"}), format="json")
    assert response.status_code == 201
    assert json.loads(response.json()["config_json"]) == {"shop": "店铺A"}


def test_status_cannot_be_written_by_clients(operator_client, account, make_task):
    created = operator_client.post(URL, body(status="running"), format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    task_id = created.json()["id"]
    changed = operator_client.patch(f"{URL}/{task_id}", {"status": "running"}, format="json")
    assert changed.status_code == 200
    assert Task.objects.get(pk=task_id).status == TaskStatus.PENDING


def test_missing_required_fields_are_named(operator_client, account):
    response = operator_client.post(
        URL, {"shadow_bot_account": "bot_01", "host_ip": "192.168.1.100"}, format="json"
    )
    assert response.status_code == 400
    assert {"task_name", "app_name"} <= set(response.json()["details"])


def test_a_past_trigger_time_is_refused_and_a_future_one_kept(operator_client, account):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert operator_client.post(URL, body(trigger_time=past), format="json").status_code == 400
    future = timezone.now() + timedelta(hours=1)
    response = operator_client.post(URL, body(trigger_time=future.isoformat()), format="json")
    assert response.status_code == 201
    assert Task.objects.get().trigger_time == future.replace(microsecond=future.microsecond)


# --- schedules ---------------------------------------------------------------------------------


def test_a_cron_schedule_sets_the_next_run_in_its_time_zone(operator_client, account):
    response = operator_client.post(
        URL, body(schedule="30 9 * * *", schedule_timezone="Asia/Shanghai"), format="json"
    )
    assert response.status_code == 201, response.json()
    task = Task.objects.get()
    local = task.next_run_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute) == (9, 30)
    assert task.next_run_at > timezone.now()
    assert response.json()["next_run_at"] is not None


@pytest.mark.parametrize(
    "schedule, tz, field",
    [
        ("61 * * * *", "", "schedule"),
        ("* * *", "", "schedule"),
        ("0 9 * * *", "Mars/Base", "schedule_timezone"),
    ],
)
def test_an_invalid_schedule_is_a_400_naming_the_field(operator_client, account, schedule, tz, field):
    response = operator_client.post(URL, body(schedule=schedule, schedule_timezone=tz), format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_clearing_the_schedule_clears_the_next_run(operator_client, account, make_task):
    created = operator_client.post(URL, body(schedule="*/5 * * * *"), format="json").json()
    response = operator_client.patch(f"{URL}/{created['id']}", {"schedule": ""}, format="json")
    assert response.status_code == 200
    assert response.json()["next_run_at"] is None


# --- update, re-bind, delete -------------------------------------------------------------------


def test_put_is_a_partial_update(operator_client, account, make_task):
    task = make_task(account, task_name="Old", remark="keep")
    response = operator_client.put(f"{URL}/{task.pk}", {"task_name": "New"}, format="json")
    assert response.status_code == 200, response.json()
    task.refresh_from_db()
    assert (task.task_name, task.remark, task.account) == ("New", "keep", account)


def test_rebinding_to_another_account_moves_the_task_counts(
    operator_client, account, make_account, make_task
):
    other = make_account(shadow_bot_account="bot_02", host_ip="192.168.1.101", port=8000)
    task = make_task(account)
    response = operator_client.patch(
        f"{URL}/{task.pk}", {"shadow_bot_account": "bot_02", "host_ip": "192.168.1.101"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["account_id"] == str(other.pk)
    counts = {a["id"]: a["task_count"] for a in operator_client.get("/api/v1/accounts").json()["items"]}
    assert counts == {str(account.pk): 0, str(other.pk): 1}


def test_moving_a_running_task_is_refused(operator_client, account, make_account, make_task):
    make_account(shadow_bot_account="bot_02", host_ip="192.168.1.101")
    task = make_task(account, status=TaskStatus.RUNNING)
    response = operator_client.patch(
        f"{URL}/{task.pk}", {"shadow_bot_account": "bot_02", "host_ip": "192.168.1.101"}, format="json"
    )
    assert response.status_code == 409
    task.refresh_from_db()
    assert task.account == account


def test_renaming_to_an_app_the_account_already_has_is_409(operator_client, account, make_task):
    make_task(account, app_name="a")
    task = make_task(account, app_name="b")
    response = operator_client.patch(f"{URL}/{task.pk}", {"app_name": "A"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "TASK_EXISTS"


def test_task_count_is_exact_after_create_and_delete(operator_client, account):
    first = operator_client.post(URL, body(app_name="a"), format="json").json()
    operator_client.post(URL, body(app_name="b"), format="json")
    assert operator_client.get(f"/api/v1/accounts/{account.pk}").json()["task_count"] == 2
    response = operator_client.delete(f"{URL}/{first['id']}")
    assert response.status_code == 200
    assert response.json()["code"] == "DELETED"
    assert operator_client.get(f"/api/v1/accounts/{account.pk}").json()["task_count"] == 1


def test_an_account_with_tasks_cannot_be_deleted(operator_client, account, make_task):
    make_task(account)
    response = operator_client.delete(f"/api/v1/accounts/{account.pk}")
    assert response.status_code == 409
    assert Account.objects.filter(pk=account.pk).exists()


def test_unknown_task_is_404_in_the_error_shape(operator_client):
    response = operator_client.get(f"{URL}/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


# --- list, filters, search ---------------------------------------------------------------------


@pytest.fixture
def fleet(make_account, make_task):
    a = make_account(shadow_bot_account="bot_a", host_ip="10.1.1.1")
    b = make_account(shadow_bot_account="bot_b", host_ip="10.2.2.2")
    return {
        "report": make_task(a, task_name="Daily report", app_name="daily_report"),
        "orders": make_task(a, task_name="Sync orders", app_name="sync_orders", status=TaskStatus.RUNNING),
        "stock": make_task(b, task_name="Stock check", app_name="stock"),
    }


def names(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {item["task_name"] for item in response.json()["items"]}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("search=report", {"Daily report"}),
        ("search=SYNC_ORD", {"Sync orders"}),
        ("search=bot_b", {"Stock check"}),
        ("search=10.1.1", {"Daily report", "Sync orders"}),
        ("status=running", {"Sync orders"}),
        ("status=pending", {"Daily report", "Stock check"}),
        ("app_name=stock", {"Stock check"}),
        ("shadow_bot_account=bot_a", {"Daily report", "Sync orders"}),
    ],
)
def test_list_filters(viewer_client, fleet, query, expected):
    assert names(viewer_client.get(f"{URL}?{query}")) == expected


def test_list_is_paginated_with_the_envelope(viewer_client, fleet):
    data = viewer_client.get(f"{URL}?page=2&page_size=2").json()
    assert (data["total"], data["page"], data["page_size"], data["total_pages"]) == (3, 2, 2, 2)
    assert len(data["items"]) == 1


def test_an_unknown_status_filter_is_400(viewer_client, fleet):
    assert viewer_client.get(f"{URL}?status=sleeping").status_code == 400


# --- roles -------------------------------------------------------------------------------------


def test_anonymous_is_401(anon_client):
    assert anon_client.get(URL).status_code == 401


def test_viewer_reads_but_cannot_write(viewer_client, account, make_task):
    task = make_task(account)
    assert viewer_client.get(f"{URL}/{task.pk}").status_code == 200
    assert viewer_client.post(URL, body(app_name="new"), format="json").status_code == 403
    assert viewer_client.patch(f"{URL}/{task.pk}", {"task_name": "x"}, format="json").status_code == 403
    assert viewer_client.delete(f"{URL}/{task.pk}").status_code == 403
