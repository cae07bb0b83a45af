"""Issue 13 item 6 for tasks: `config_file_path`, which the SPA may show as a link, is an http(s)
URL or the path of a stored file; a dangerous value stored earlier is served as null."""

from __future__ import annotations

import pytest

from tasks.models import Task
from tasks.tests.test_admin import TASKS_URL, task_form, with_empty_inline

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks"


@pytest.mark.parametrize("path", ["javascript:alert(1)", "data:text/html,x", "//evil.example/c.json", "../c.json"])
def test_the_api_refuses_a_config_file_path_that_is_no_safe_link(operator_client, make_task, path):
    task = make_task()
    response = operator_client.patch(f"{URL}/{task.pk}", {"config_file_path": path}, format="json")
    assert response.status_code == 400 and response.json()["message"].startswith("config_file_path:")
    assert Task.objects.get(pk=task.pk).config_file_path is None


@pytest.mark.parametrize("path", ["https://bucket.example.com/c.json", "configs/bot_01/daily/c.json", ""])
def test_the_api_accepts_urls_and_stored_paths(operator_client, make_task, path):
    task = make_task()
    response = operator_client.patch(f"{URL}/{task.pk}", {"config_file_path": path}, format="json")
    assert response.status_code == 200


def test_a_dangerous_stored_config_file_path_is_served_as_null(operator_client, make_task):
    task = make_task()
    Task.objects.filter(pk=task.pk).update(config_file_path="javascript:alert(1)")
    assert operator_client.get(f"{URL}/{task.pk}").json()["config_file_path"] is None
    assert operator_client.get(URL).json()["items"][0]["config_file_path"] is None


def test_the_admin_form_refuses_a_dangerous_config_file_path(client, admin_user, make_task):
    client.force_login(admin_user)
    task = make_task()
    data = with_empty_inline(task_form(task.account, app_name=task.app_name, config_file_path="javascript:alert(1)"))
    response = client.post(f"{TASKS_URL}{task.pk}/change/", data)
    assert response.status_code == 200 and "http(s) URL" in response.content.decode()
    assert Task.objects.get(pk=task.pk).config_file_path is None
