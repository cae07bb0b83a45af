"""The admin side of inputs and outputs (API.md §11): parameters edited on the task page, one
row each; "Start with inputs…" (page button and list action) with one typed field per parameter;
a job's page showing its inputs (secrets masked) and outputs."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job
from tasks.models import TaskParameter
from tasks.tests.test_admin import TASKS_URL, run_action, task_form, texts, with_empty_inline

pytestmark = pytest.mark.django_db


def parameter_rows(*rows: dict) -> dict:
    data = {"parameters-TOTAL_FORMS": str(len(rows)), "parameters-INITIAL_FORMS": "0"}
    for index, row in enumerate(rows):
        for key, value in {"position": index, "type": "str", "description": "", "default": "", **row}.items():
            if value is True:
                value = "on"
            if value is not False:
                data[f"parameters-{index}-{key}"] = value
    return data


def save_page(client, task, *rows):
    data = {**with_empty_inline(task_form(task.account, app_name=task.app_name)), **parameter_rows(*rows)}
    return client.post(f"{TASKS_URL}{task.pk}/change/", data)


@pytest.fixture
def task(make_task):
    task = make_task(app_name="export_orders")
    for position, (name, kind, required, default, secret) in enumerate([
        ("order_date", "str", True, None, False), ("limit", "int", False, 50, False),
        ("dry_run", "bool", False, None, False), ("password", "str", False, "pw-default", True),
        ("sheet", "file", False, None, False),
    ]):  # fmt: skip
        TaskParameter.objects.create(task=task, position=position, name=name, type=kind, required=required,
                                     default=default, secret=secret)  # fmt: skip
    return task


def test_parameters_are_edited_on_the_task_page_one_row_each(root, make_task):
    task = make_task(app_name="export_orders")
    response = save_page(root, task, {"name": "order_date", "required": True},
                         {"name": "limit", "type": "int", "default": "50"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(TaskParameter.objects.filter(task=task).values_list("name", "type", "required", "default")) == [
        ("order_date", "str", True, None), ("limit", "int", False, 50),
    ]  # fmt: skip
    page = root.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    assert 'name="parameters-1-default"' in page and 'value="50"' in page


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        (({"name": "a"}, {"name": "a"}), "Please correct the duplicate"),
        (({"name": "limit", "type": "int", "default": "fifty"},), "default must be an integer"),
        (({"name": "sheet", "type": "file", "default": "javascript:x"},), "default must be an http(s) URL"),
    ],
)
def test_bad_parameter_rows_are_form_errors_and_nothing_is_saved(root, make_task, rows, error):
    task = make_task()
    response = save_page(root, task, *rows)
    assert response.status_code == 200 and error in response.content.decode()
    assert not TaskParameter.objects.filter(task=task).exists()


def test_a_secret_default_is_never_rendered_and_kept_when_left_blank(root, task):
    page = root.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    assert "pw-default" not in page
    existing = {"parameters-TOTAL_FORMS": "5", "parameters-INITIAL_FORMS": "5"}
    for index, parameter in enumerate(TaskParameter.objects.filter(task=task)):
        existing.update({f"parameters-{index}-id": str(parameter.pk), f"parameters-{index}-task": str(task.pk),
                         f"parameters-{index}-position": str(index), f"parameters-{index}-name": parameter.name,
                         f"parameters-{index}-type": parameter.type, f"parameters-{index}-description": "",
                         f"parameters-{index}-default": "" if parameter.secret or parameter.default is None
                         else str(parameter.default)})  # fmt: skip
        if parameter.secret:
            existing[f"parameters-{index}-secret"] = "on"
        if parameter.required:
            existing[f"parameters-{index}-required"] = "on"
    data = {**with_empty_inline(task_form(task.account, app_name=task.app_name)), **existing}
    assert root.post(f"{TASKS_URL}{task.pk}/change/", data).status_code == 302
    assert TaskParameter.objects.get(task=task, name="password").default == "pw-default"


def test_the_start_form_has_one_typed_field_per_parameter_required_ones_marked(operator, task):
    page = operator.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    assert f'href="{TASKS_URL}{task.pk}/start-with-inputs/"' in page
    form = operator.get(f"{TASKS_URL}{task.pk}/start-with-inputs/").content.decode()
    assert re.search(r'<label for="id_order_date" class="required">order_date', form)
    assert 'type="number" name="limit"' in form and "Default: 50" in form
    assert '<select name="dry_run"' in form
    assert 'type="password" name="password"' in form and "pw-default" not in form
    assert 'type="file" name="sheet"' in form and 'name="sheet__path"' in form


def test_the_start_form_starts_a_job_whose_page_shows_its_inputs(operator, task, fake_relay):
    upload = SimpleUploadedFile("orders.csv", b"id\n1\n", content_type="text/csv")
    response = operator.post(f"{TASKS_URL}{task.pk}/start-with-inputs/",
                             {"order_date": "2026-01-21", "limit": "7", "dry_run": "true", "password": "typed-pw",
                              "sheet": upload})  # fmt: skip
    job = Job.objects.get(task=task)
    assert response.status_code == 302 and response["Location"] == f"/admin/jobs/job/{job.pk}/change/"
    values = {item["name"]: item["value"] for item in job.inputs}
    assert values["order_date"] == "2026-01-21" and values["limit"] == 7 and values["dry_run"] is True
    assert values["password"] == "typed-pw" and job.source == "admin"
    assert default_storage.open(values["sheet"]).read() == b"id\n1\n"
    page = operator.get(response["Location"]).content.decode()
    assert "2026-01-21" in page and "******" in page and "typed-pw" not in page
    assert 'id="job-inputs"' in page and 'id="job-outputs"' not in page  # no outputs yet


def test_a_bad_or_missing_value_is_a_form_error_and_starts_nothing(operator, task, fake_relay):
    missing = operator.post(f"{TASKS_URL}{task.pk}/start-with-inputs/", {"limit": "7"})
    assert missing.status_code == 200 and "This field is required." in missing.content.decode()
    bad = operator.post(f"{TASKS_URL}{task.pk}/start-with-inputs/", {"order_date": "d", "sheet__path": "javascript:x"})
    assert bad.status_code == 200 and "inputs.sheet: must be an http(s) URL" in bad.content.decode()
    assert not Job.objects.filter(task=task).exists()


def test_the_list_action_opens_the_form_for_one_task(operator, task, make_task):
    response = run_action(operator, "start_with_inputs", task)
    assert response.status_code == 302 and response["Location"] == f"{TASKS_URL}{task.pk}/start-with-inputs/"
    two = run_action(operator, "start_with_inputs", task, make_task())
    assert any("exactly one task" in text for text in texts(two))


def test_viewers_cannot_start_with_inputs(viewer, task):
    assert viewer.get(f"{TASKS_URL}{task.pk}/start-with-inputs/").status_code == 403
    assert "start-with-inputs" not in viewer.get(f"{TASKS_URL}{task.pk}/change/").content.decode()


def test_a_job_page_shows_its_outputs(operator, make_task):
    from jobs.tests.conftest import build_job

    job = build_job(make_task(), "completed", outputs={"exported": 120, "file": "out.xlsx"}, inputs=[])
    page = operator.get(f"/admin/jobs/job/{job.pk}/change/").content.decode()
    shown = page[page.index('id="job-outputs"'):]
    assert "<th>exported</th><td>120</td>" in shown and "<th>file</th><td>out.xlsx</td>" in shown


def test_the_inputs_pages_in_chinese(root, task):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    page = root.get(f"{TASKS_URL}{task.pk}/change/", **zh).content.decode()
    assert "带输入启动…" in page and "参数（每次启动可传入的输入）" in page
    form = root.get(f"{TASKS_URL}{task.pk}/start-with-inputs/", **zh).content.decode()
    assert "带输入启动：" in form and "默认值：50" in form and "（默认值）" in form
