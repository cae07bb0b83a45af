"""Creates, edits and deletes made through the API are in the object's admin history (Django's
LogEntry, as the admin writes for its own edits): who, when, which fields — never the values."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from accounts.models import Account
from alerts.models import Channel
from tasks.models import Task

pytestmark = pytest.mark.django_db


def entries(model, pk):
    content_type = ContentType.objects.get_for_model(model)
    return list(LogEntry.objects.filter(content_type=content_type, object_id=str(pk)).order_by("action_time", "pk"))


def fields_of(entry) -> list[str]:
    return json.loads(entry.change_message)[0]["changed"]["fields"]


def test_an_account_created_and_edited_through_the_api_has_its_history(operator_client, operator_user, root):
    created = operator_client.post("/api/v1/accounts", {"shadow_bot_account": "bot_h", "host_ip": "10.0.0.9", "port": 8000}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert operator_client.patch(f"/api/v1/accounts/{pk}", {"port": 8001, "status": "failed"}, format="json").status_code == 200
    assert operator_client.patch(f"/api/v1/accounts/{pk}", {"port": 8001}, format="json").status_code == 200  # no change

    added, changed = entries(Account, pk)
    assert (added.action_flag, added.user, json.loads(added.change_message)) == (ADDITION, operator_user, [{"added": {}}])
    assert (changed.action_flag, changed.user) == (CHANGE, operator_user)
    assert fields_of(changed) == ["Port"]  # status is the robots' column: the edit did not change it

    page = root.get(f"/admin/accounts/account/{pk}/history/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "operator1" in text and "Changed Port." in text and "Added." in text


def test_a_task_edit_and_delete_through_the_api_are_recorded(operator_client, operator_user, make_account):
    account = make_account()
    body = {"account_id": str(account.pk), "task_name": "Nightly", "app_name": "nightly"}
    created = operator_client.post("/api/v1/tasks", body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    answer = operator_client.patch(f"/api/v1/tasks/{pk}", {"max_retries": 3, "schedule": "0 2 * * *"}, format="json")
    assert answer.status_code == 200, answer.content
    assert operator_client.delete(f"/api/v1/tasks/{pk}").status_code == 200

    added, changed, deleted = entries(Task, pk)
    assert added.action_flag == ADDITION and deleted.action_flag == DELETION
    assert sorted(fields_of(changed)) == ["Max retries", "Schedule"]
    assert {entry.user for entry in (added, changed, deleted)} == {operator_user}
    assert deleted.object_repr == added.object_repr


def test_a_channel_edit_names_the_secret_but_never_records_it(admin_client_api, admin_user):
    body = {"name": "ops", "kind": "webhook", "target": "https://hooks.example.com/a", "secret": "s3cret-value"}
    created = admin_client_api.post("/api/v1/alerts/channels", body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    patch = {"secret": "an0ther-secret", "account_ids": [], "enabled": False}
    assert admin_client_api.patch(f"/api/v1/alerts/channels/{pk}", patch, format="json").status_code == 200

    added, changed = entries(Channel, pk)
    assert added.user == admin_user and sorted(fields_of(changed)) == ["Enabled", "Secret"]
    assert not LogEntry.objects.filter(change_message__contains="secret-value").exists()
    assert not LogEntry.objects.filter(change_message__contains="an0ther").exists()


def test_a_refused_edit_leaves_no_history(operator_client, make_account):
    first, second = make_account(), make_account()
    duplicate = {"shadow_bot_account": first.shadow_bot_account, "host_ip": first.host_ip, "port": first.port}
    assert operator_client.patch(f"/api/v1/accounts/{second.pk}", duplicate, format="json").status_code == 409
    assert entries(Account, second.pk) == []


def test_a_work_queue_created_edited_and_deleted_through_the_api_has_its_history(operator_client, operator_user):
    from workqueues.models import WorkQueue

    created = operator_client.post("/api/v1/queues", {"name": "Invoices"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert operator_client.patch(f"/api/v1/queues/{pk}", {"sla_minutes": 30}, format="json").status_code == 200
    assert operator_client.delete(f"/api/v1/queues/{pk}").status_code == 200

    added, changed, deleted = entries(WorkQueue, pk)
    assert (added.action_flag, changed.action_flag, deleted.action_flag) == (ADDITION, CHANGE, DELETION)
    assert fields_of(changed) == ["SLA (minutes)"]
    assert {entry.user for entry in (added, changed, deleted)} == {operator_user}
