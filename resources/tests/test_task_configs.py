"""API.md §7: task config files — operators upload them, robots fetch them with their secret."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import WEBHOOK_TOKEN
from rpa_workbench import events
from tasks.models import Task

pytestmark = pytest.mark.django_db

UPLOAD = "/api/v1/resources/upload/config"
GET_CONFIG = "/api/v1/resources/config/get"
XLSX = b"PK\x03\x04" + bytes(range(256)) * 20


@pytest.fixture
def task(make_account, make_task):
    account = make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100")
    return make_task(account, app_name="daily_report", config_info=True, config_json='{"shop": "A"}')


def upload(client, name="店铺配置 A.xlsx", content=XLSX, **fields):
    data = {"shadow_bot_account": "bot_01", "app_name": "daily_report", **fields}
    if name is not None:
        data["file"] = SimpleUploadedFile(name, content)
    return client.post(UPLOAD, data, format="multipart")


def stored_files() -> list[str]:
    found = []

    def walk(directory: str) -> None:
        dirs, files = default_storage.listdir(directory)
        found.extend(f"{directory}/{f}" if directory else f for f in files)
        for d in dirs:
            walk(f"{directory}/{d}" if directory else d)

    if default_storage.exists(""):
        walk("")
    return found


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_upload_round_trip_returns_a_fetchable_url_with_the_same_bytes(operator_client, anon_client, task):
    response = upload(operator_client)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"]
    fetched = anon_client.get(body["file_url"])  # signed: works without a header, like a link
    assert fetched.status_code == 200
    assert body_of(fetched) == XLSX


def test_upload_points_the_task_at_the_file_and_publishes(operator_client, task, monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr(events, "publish_task_updated", lambda t, changes: published.append((t.pk, changes)))
    response = upload(operator_client)
    task.refresh_from_db()
    assert task.config_file is True
    assert task.config_file_path == response.json()["config_file_path"]
    assert task.config_file_path.startswith("configs/bot_01/daily_report/")
    assert task.config_file_path.endswith("_店铺配置_A.xlsx")  # Unicode kept readable
    assert published == [(task.pk, {"config_file": True, "config_file_path": task.config_file_path})]


@pytest.mark.parametrize(
    ("name", "stored_suffix"),
    [("../../../etc/passwd.json", "_passwd.json"), ("C:\\robot\\cfg.ini", "_cfg.ini"),
     ('a<b>:"c"|?*.csv', "_a_b___c____.csv"), ("  .hidden.yaml", "_hidden.yaml")],
)
def test_uploaded_names_are_made_safe(operator_client, task, name, stored_suffix):
    response = upload(operator_client, name=name)
    assert response.status_code == 200
    path = response.json()["config_file_path"]
    assert path.startswith("configs/bot_01/daily_report/")
    assert path.endswith(stored_suffix)
    assert ".." not in path and "\\" not in path


def test_file_over_the_size_limit_is_400(operator_client, task, settings):
    settings.RPA_UPLOAD_MAX_BYTES = 100
    response = upload(operator_client, name="big.csv", content=b"x" * 101)
    assert response.status_code == 400
    assert response.json()["message"].startswith("file:")
    assert stored_files() == []


def test_request_far_over_the_limit_is_refused_before_parsing(operator_client, task, settings):
    settings.RPA_UPLOAD_MAX_BYTES = 1000
    response = upload(operator_client, name="big.csv", content=b"x" * 200_000)
    assert response.status_code == 400
    assert "larger than" in response.json()["message"]
    assert stored_files() == []


@pytest.mark.parametrize("name", ["robot.exe", "shell.php", "page.html", "noextension", "archive.xlsx.sh"])
def test_extensions_outside_the_allow_list_are_400(operator_client, task, name):
    response = upload(operator_client, name=name)
    assert response.status_code == 400
    assert response.json()["message"].startswith("file:")
    assert stored_files() == []


@pytest.mark.parametrize("name", ["a.xlsx", "b.XLS", "c.csv", "d.json", "e.txt", "f.yaml", "g.yml", "h.ini"])
def test_config_extensions_are_accepted(operator_client, task, name):
    assert upload(operator_client, name=name).status_code == 200


def test_empty_file_is_400(operator_client, task):
    assert upload(operator_client, name="a.csv", content=b"").status_code == 400


def test_missing_file_or_fields_are_400(operator_client, task):
    response = upload(operator_client, name=None)
    assert response.status_code == 400
    assert response.json()["message"].startswith("file:")
    response = operator_client.post(UPLOAD, {"file": SimpleUploadedFile("a.csv", b"x")}, format="multipart")
    assert response.status_code == 400


def test_upload_for_an_unknown_task_is_404_and_stores_nothing(operator_client, task):
    response = upload(operator_client, app_name="no_such_app")
    assert response.status_code == 404
    assert response.json()["code"] == "TASK_NOT_FOUND"
    assert stored_files() == []


def test_upload_needs_the_change_task_permission(viewer_client, anon_client, task):
    assert upload(viewer_client).status_code == 403
    assert upload(anon_client).status_code == 401
    assert stored_files() == []


def test_robot_gets_its_config_with_a_fetchable_url(operator_client, robot_client, anon_client, task):
    upload(operator_client)
    response = robot_client.post(GET_CONFIG, {"shadow_bot_account": "bot_01", "app_name": "daily_report"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["config_file"] is True
    assert body["config_info"] is True
    assert body["config_json"] == '{"shop": "A"}'
    url = urlsplit(body["config_file_url"])
    assert url.scheme == "http" and url.netloc == "testserver"
    fetched = anon_client.get(f"{url.path}?{url.query}")
    assert fetched.status_code == 200
    assert body_of(fetched) == XLSX


def test_robot_may_fetch_config_files_with_its_secret(operator_client, anon_client, task):
    path = upload(operator_client).json()["config_file_path"]
    assert anon_client.get(f"/api/v1/resources/{path}").status_code == 401
    response = anon_client.get(f"/api/v1/resources/{path}", HTTP_X_WEBHOOK_TOKEN=WEBHOOK_TOKEN)
    assert response.status_code == 200


def test_robot_config_without_a_file(robot_client, task):
    body = robot_client.post(GET_CONFIG, {"shadow_bot_account": "bot_01", "app_name": "DAILY_REPORT"}, format="json").json()
    assert body == {"config_file": False, "config_file_url": None, "config_info": True, "config_json": '{"shop": "A"}',
                    "job_id": None, "inputs": None, "secret_inputs": []}  # no current job (API.md §11)


def test_robot_config_host_ip_picks_the_task_on_that_host(robot_client, make_account, make_task, task):
    other = make_task(make_account(shadow_bot_account="bot_01", host_ip="192.168.1.101"), app_name="daily_report",
                      config_json='{"shop": "B"}')
    body = robot_client.post(
        GET_CONFIG, {"shadow_bot_account": "bot_01", "app_name": "daily_report", "host_ip": "192.168.1.101"}, format="json"
    ).json()
    assert body["config_json"] == other.config_json


def test_robot_config_for_an_unknown_task_is_404(robot_client, task):
    response = robot_client.post(GET_CONFIG, {"shadow_bot_account": "bot_01", "app_name": "nope"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "TASK_NOT_FOUND"


def test_robot_config_needs_the_fields(robot_client, task):
    response = robot_client.post(GET_CONFIG, {"shadow_bot_account": "bot_01"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("app_name:")


def test_robot_config_needs_the_webhook_secret(anon_client, operator_client, task):
    body = {"shadow_bot_account": "bot_01", "app_name": "daily_report"}
    assert anon_client.post(GET_CONFIG, body, format="json").status_code == 401
    wrong = anon_client.post(GET_CONFIG, body, format="json", HTTP_X_WEBHOOK_TOKEN="wrong")
    assert wrong.status_code == 401
    assert operator_client.post(GET_CONFIG, body, format="json").status_code == 401  # a user JWT is not the secret
    bearer = anon_client.post(GET_CONFIG, body, format="json", HTTP_AUTHORIZATION=f"Bearer {WEBHOOK_TOKEN}")
    assert bearer.status_code == 200


def test_deleted_task_row_after_upload_check_leaves_no_file(operator_client, task, monkeypatch):
    """If the task disappears between lookup and update, the stored file is removed again."""
    from resources import services

    real_find = services.find_task

    def find_then_delete(**kwargs):
        found = real_find(**kwargs)
        Task.objects.filter(pk=found.pk).delete()
        return found

    monkeypatch.setattr(services, "find_task", find_then_delete)
    response = upload(operator_client)
    assert response.status_code == 404
    assert stored_files() == []
