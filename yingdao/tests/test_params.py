"""Inputs and outputs on the Yingdao backend (API.md §11) against the fake tenant: `params` on
job/start (a stored file uploaded with file/upload and passed as its fileKey), outputs from the
callback's `result` or from job/query's `robotParams.outputs`, an app's parameters from
robot/v2/queryRobotParam."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from jobs.models import Job
from tasks.models import ControlRequest, TaskParameter
from yingdao import params as yingdao_params
from yingdao.client import YingdaoError

pytestmark = pytest.mark.django_db


@pytest.fixture
def parameters(yingdao_task):
    for position, (name, kind, secret) in enumerate(
        [("order_date", "str", False), ("limit", "int", False), ("orders", "file", False), ("password", "str", True)]
    ):
        TaskParameter.objects.create(task=yingdao_task, position=position, name=name, type=kind, secret=secret)
    default_storage.save("inputs/orders.csv", ContentFile(b"id,amount\n1,9.5\n"))
    return yingdao_task


def start(client, task, inputs):
    answer = client.post(f"/api/v1/tasks/{task.pk}/start", {"inputs": inputs}, format="json")
    assert answer.status_code == 200, answer.json()
    return Job.objects.get(pk=answer.json()["job_id"])


INPUTS = {"order_date": "2026-01-21", "limit": "20", "orders": "/api/v1/resources/inputs/orders.csv", "password": "pw-7"}


def test_a_job_is_started_with_params_and_its_file_uploaded_first(operator_client, parameters, fake_yingdao):
    job = start(operator_client, parameters, INPUTS)
    [yd_job] = fake_yingdao.jobs.values()
    [(file_key, (filename, content))] = fake_yingdao.uploads.items()
    assert (filename, content) == ("orders.csv", b"id,amount\n1,9.5\n")
    assert yd_job.body["params"] == [
        {"name": "order_date", "value": "2026-01-21", "type": "str"},
        {"name": "limit", "value": 20, "type": "int"},
        {"name": "orders", "value": file_key, "type": "file"},
        {"name": "password", "value": "pw-7", "type": "str"},
    ]
    endpoints = [name for name, *_ in fake_yingdao.requests if name != "token"]
    assert endpoints.index("file/upload") < endpoints.index("job/start")
    assert job.status == "dispatched"


def test_the_callbacks_result_becomes_the_jobs_outputs(operator_client, parameters, fake_yingdao):
    job = start(operator_client, parameters, INPUTS)
    result = [{"name": "exported", "value": 120, "type": "int"}, {"name": "file", "value": "out.xlsx", "type": "str"}]
    fake_yingdao.set_status(job.external_id, "finish", outputs=result, screenshot_url="https://oss.example/1.png")
    assert fake_yingdao.flush() == [200]
    job.refresh_from_db()
    assert (job.status, job.outputs) == ("completed", {"exported": 120, "file": "out.xlsx"})
    assert fake_yingdao.calls("job/query") == []  # the callback's result was enough


def test_outputs_missing_from_the_callback_come_from_job_query(operator_client, parameters, fake_yingdao):
    job = start(operator_client, parameters, INPUTS)
    fake_yingdao.set_status(job.external_id, "finish", shape="task", outputs=[{"name": "exported", "value": 3}])
    fake_yingdao.flush()
    job.refresh_from_db()
    assert (job.status, job.outputs) == ("completed", {"exported": 3})
    assert len(fake_yingdao.calls("job/query")) == 1


def test_outputs_beyond_the_limits_are_dropped_and_the_end_still_applied(operator_client, parameters, fake_yingdao):
    job = start(operator_client, parameters, INPUTS)
    fake_yingdao.set_status(job.external_id, "finish", outputs=[{"name": f"n{i}", "value": i} for i in range(101)])
    assert fake_yingdao.flush() == [200]
    job.refresh_from_db()
    assert (job.status, job.outputs) == ("completed", None)


def test_an_unreadable_file_fails_the_dispatch_without_sending_job_start(operator_client, parameters, fake_yingdao):
    answer = operator_client.post(
        f"/api/v1/tasks/{parameters.pk}/start", {"inputs": {**INPUTS, "orders": "inputs/missing.csv"}}, format="json"
    )
    assert (answer.status_code, answer.json()["code"]) == (502, "CONTROL_REQUEST_FAILED")
    assert "inputs/missing.csv" in answer.json()["message"]
    assert fake_yingdao.jobs == {} and fake_yingdao.calls("job/start") == []
    job = Job.objects.get(task=parameters)
    assert (job.status, job.reason) == ("failed", "dispatch_failed")
    assert "pw-7" not in ControlRequest.objects.get(job=job).error


def test_a_task_without_parameters_keeps_its_config_json_params(operator_client, yingdao_task, fake_yingdao):
    start(operator_client, yingdao_task, None)
    [yd_job] = fake_yingdao.jobs.values()
    assert yd_job.body["params"] == [{"name": "shop", "value": "A", "type": "str"}, {"name": "days", "value": 2, "type": "int"}]


def test_an_apps_parameters_are_read_from_query_robot_param(fake_yingdao):
    fake_yingdao.set_robot_params(
        "app-uuid-1",
        [{"name": "order_date", "type": "str", "value": "", "description": "业务日期"},
         {"name": "limit", "type": "int", "value": 50}, {"name": "sheet", "type": "file", "value": "fk-1"},
         {"name": "odd", "type": "datetime"}],
        [{"name": "exported", "type": "int"}],
    )  # fmt: skip
    assert yingdao_params.app_parameters("app-uuid-1") == [
        {"name": "order_date", "type": "str", "required": False, "default": None, "description": "业务日期", "secret": False},
        {"name": "limit", "type": "int", "required": False, "default": 50, "description": "", "secret": False},
        {"name": "sheet", "type": "file", "required": False, "default": None, "description": "", "secret": False},
        {"name": "odd", "type": "str", "required": False, "default": None, "description": "", "secret": False},
    ]
    with pytest.raises(YingdaoError, match="no published app"):
        yingdao_params.app_parameters("unknown-app")


def test_the_admin_loads_a_yingdao_tasks_parameters_keeping_what_the_operator_set(root, yingdao_task, fake_yingdao):
    TaskParameter.objects.create(task=yingdao_task, name="password", secret=True, required=True, default="pw")
    TaskParameter.objects.create(task=yingdao_task, name="gone", position=1)
    fake_yingdao.set_robot_params("app-uuid-1", [{"name": "order_date", "type": "str", "description": "业务日期"},
                                                 {"name": "password", "type": "str", "value": ""}])  # fmt: skip
    page = root.get(f"/admin/tasks/task/{yingdao_task.pk}/change/").content.decode()
    url = f"/admin/tasks/task/{yingdao_task.pk}/load-yingdao-parameters/"
    assert f'action="{url}"' in page
    response = root.post(url)
    assert response.status_code == 302
    rows = TaskParameter.objects.filter(task=yingdao_task)
    assert [(p.name, p.description, p.secret, p.required, p.default) for p in rows] == [
        ("order_date", "业务日期", False, False, None), ("password", "", True, True, "pw"),
    ]  # fmt: skip
    fake_yingdao.failures["robot/queryRobotParam"] = (500, "internal error")
    failed = root.post(url, follow=True).content.decode()
    assert "Yingdao did not answer the parameter list" in failed and rows.count() == 2


def test_a_relay_task_offers_no_yingdao_loading(root, make_task):
    task = make_task()
    assert "load-yingdao-parameters" not in root.get(f"/admin/tasks/task/{task.pk}/change/").content.decode()
    assert root.post(f"/admin/tasks/task/{task.pk}/load-yingdao-parameters/").status_code == 404
