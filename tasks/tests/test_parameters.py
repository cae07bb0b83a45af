"""Task parameter definitions (API.md §11): declared on the task, checked, a secret's default
write-only."""

from __future__ import annotations

import pytest

from tasks.models import TaskParameter

pytestmark = pytest.mark.django_db

ORDER_DATE = {"name": "order_date", "type": "str", "required": True, "default": None,
              "description": "business day to export", "secret": False}  # fmt: skip


def put(client, task, parameters):
    return client.patch(f"/api/v1/tasks/{task.pk}", {"parameters": parameters}, format="json")


def test_parameters_are_declared_returned_and_replaced(operator_client, make_task):
    task = make_task()
    answer = put(operator_client, task, [ORDER_DATE, {"name": "limit", "type": "int", "default": "50"}])
    assert answer.status_code == 200, answer.json()
    assert answer.json()["parameters"] == [
        ORDER_DATE,
        {"name": "limit", "type": "int", "required": False, "default": 50, "description": "", "secret": False},
    ]
    assert operator_client.get(f"/api/v1/tasks/{task.pk}").json()["parameters"][1]["default"] == 50
    listed = operator_client.get("/api/v1/tasks").json()["items"][0]
    assert [p["name"] for p in listed["parameters"]] == ["order_date", "limit"]

    assert put(operator_client, task, [{"name": "shop"}]).status_code == 200
    assert list(TaskParameter.objects.filter(task=task).values_list("name", "type")) == [("shop", "str")]


def test_a_task_is_created_with_its_parameters(operator_client, make_account):
    account = make_account()
    body = {"task_name": "Export", "app_name": "export", "account_id": str(account.pk), "parameters": [ORDER_DATE]}
    created = operator_client.post("/api/v1/tasks", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["parameters"] == [ORDER_DATE]


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ([ORDER_DATE, {**ORDER_DATE, "type": "int"}], "order_date: duplicate parameter name"),
        ([{"name": "limit", "type": "integer"}], "limit: type must be one of str, int, float, bool, file"),
        ([{"name": "limit", "type": "int", "default": "fifty"}], "limit: default must be an integer"),
        ([{"name": "ratio", "type": "float", "default": True}], "ratio: default must be a number"),
        ([{"name": "dry_run", "type": "bool", "default": "maybe"}], "dry_run: default must be true or false"),
        ([{"name": "sheet", "type": "file", "default": "javascript:alert(1)"}], "sheet: default must be an http(s) URL"),
        ([{"name": "x" * 101}], "name must be at most 100 characters"),
        ([{"name": ""}], "parameter 1: name is required"),
        ([{"name": "a", "colour": "red"}], "a: unknown key(s) colour"),
        ([{"name": f"p{i}"} for i in range(51)], "at most 50 parameters"),
        ({"name": "a"}, "must be a list"),
    ],
)
def test_bad_definitions_are_400_naming_the_parameter(operator_client, make_task, parameters, named):
    task = make_task()
    TaskParameter.objects.create(task=task, name="kept")
    answer = put(operator_client, task, parameters)
    body = answer.json()
    assert (answer.status_code, body["code"]) == (400, "VALIDATION_ERROR")
    assert body["message"].startswith("parameters: ") and named in body["message"], body
    assert list(TaskParameter.objects.filter(task=task).values_list("name", flat=True)) == ["kept"]  # nothing written


def test_a_secret_default_is_write_only(operator_client, make_task):
    task = make_task()
    secret = {"name": "password", "type": "str", "default": "hunter2", "secret": True}
    shown = put(operator_client, task, [secret]).json()["parameters"][0]
    assert shown["default"] == "******"
    assert "hunter2" not in operator_client.get(f"/api/v1/tasks/{task.pk}").content.decode()
    # Sending back what the API showed keeps the stored secret.
    put(operator_client, task, [shown, {"name": "extra"}])
    assert TaskParameter.objects.get(task=task, name="password").default == "hunter2"


def test_the_demo_seeds_tasks_that_take_inputs_once(operator_client):
    from django.core.management import call_command

    from tasks.models import Task

    call_command("seed_demo")
    invoices = Task.objects.get(app_name="invoice_download")
    TaskParameter.objects.filter(task=invoices, name="max_invoices").update(default=5)  # an operator's edit
    call_command("seed_demo")
    shown = operator_client.get(f"/api/v1/tasks/{invoices.pk}").json()["parameters"]
    assert [p["name"] for p in shown] == ["invoice_month", "max_invoices", "include_credit_notes", "portal_password"]
    assert shown[1]["default"] == 5 and shown[3] == {**shown[3], "secret": True, "default": "******"}
    assert Task.objects.get(app_name="export_orders").parameters.count() == 2
