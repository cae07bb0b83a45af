"""Issue 13 item 4: crafted requests that once answered 500 get the 4xx they are owed, with the
error shape of API.md §0 — deep nesting (400), bodies over the limit (413), absurd byte ranges
(416) — and JSON responses never carry NaN or Infinity."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from rpa_workbench import events
from rpa_workbench.finite_json import finite
from rpa_workbench.parsers import MAX_JSON_DEPTH
from rpa_workbench.renderers import FiniteJSONRenderer

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/v1/webhook/execution-complete"
ACCOUNTS = "/api/v1/accounts"


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["message"]
    return body


# --- nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_json_nested_too_deeply_is_a_400(robot_client, admin_client_api, levels):
    for client, url in ((robot_client, WEBHOOK), (admin_client_api, ACCOUNTS)):
        body = error(client.generic("POST", url, nested(levels), content_type="application/json"), 400, "VALIDATION_ERROR")
        assert "nested too deeply" in body["message"]


def test_json_nested_within_the_limit_still_reaches_validation(admin_client_api):
    body = '{"shadow_bot_account": ' + nested(MAX_JSON_DEPTH - 1) + "}"
    response = admin_client_api.generic("POST", ACCOUNTS, body, content_type="application/json")
    assert error(response, 400, "VALIDATION_ERROR")["message"].startswith("shadow_bot_account:")


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_config_json_text_nested_too_deeply_is_a_400_naming_the_field(admin_client_api, make_task, levels):
    task = make_task()
    response = admin_client_api.patch(f"/api/v1/tasks/{task.pk}", {"config_json": nested(levels)}, format="json")
    assert error(response, 400, "VALIDATION_ERROR")["message"].startswith("config_json:")


# --- body size -------------------------------------------------------------------------------


@pytest.fixture
def small_upload_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_a_json_body_over_the_limit_is_a_413(robot_client, small_upload_limit):
    body = json.dumps({"shadow_bot_account": "bot", "app_name": "a", "padding": "x" * small_upload_limit})
    response = robot_client.generic("POST", WEBHOOK, body, content_type="application/json")
    assert str(small_upload_limit) in error(response, 413, "PAYLOAD_TOO_LARGE")["message"]


def test_a_json_body_at_the_limit_is_read(admin_client_api, small_upload_limit):
    body = json.dumps({"shadow_bot_account": "b" * 200})
    body += " " * (small_upload_limit - len(body))
    response = admin_client_api.generic("POST", ACCOUNTS, body, content_type="application/json")
    assert error(response, 400, "VALIDATION_ERROR")["message"].startswith("shadow_bot_account:")


def test_a_form_body_over_the_limit_is_a_413(admin_client_api, small_upload_limit):
    body = "shadow_bot_account=" + "x" * small_upload_limit
    response = admin_client_api.generic("POST", ACCOUNTS, body, content_type="application/x-www-form-urlencoded")
    error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_body_over_the_limit_outside_the_api_is_a_413_too(client, small_upload_limit):
    response = client.post("/admin/login/", {"username": "x" * small_upload_limit, "password": "y"})
    assert response.status_code == 413


# --- byte ranges -----------------------------------------------------------------------------


@pytest.fixture
def stored_log() -> str:
    return default_storage.save("logs/bot_01/run.log", ContentFile(b"line\n" * 100))


def test_a_range_starting_at_a_4301_digit_position_is_a_416(viewer_client, stored_log):
    response = viewer_client.get(f"/api/v1/resources/{stored_log}", HTTP_RANGE=f"bytes={'9' * 4301}-")
    error(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response["Content-Range"] == "bytes */500"


def test_absurdly_long_range_ends_and_suffixes_mean_the_whole_file(viewer_client, stored_log):
    tail = viewer_client.get(f"/api/v1/resources/{stored_log}", HTTP_RANGE=f"bytes=-{'9' * 4301}")
    assert tail.status_code == 206 and tail["Content-Range"] == "bytes 0-499/500"
    rest = viewer_client.get(f"/api/v1/resources/{stored_log}", HTTP_RANGE=f"bytes=10-{'9' * 4301}")
    assert rest.status_code == 206 and rest["Content-Range"] == "bytes 10-499/500"


def test_leading_zeros_do_not_make_a_small_position_absurd(viewer_client, stored_log):
    response = viewer_client.get(f"/api/v1/resources/{stored_log}", HTTP_RANGE=f"bytes={'0' * 30}5-9")
    assert response.status_code == 206 and response["Content-Range"] == "bytes 5-9/500"


# --- finite JSON out -------------------------------------------------------------------------


def test_non_finite_floats_are_rendered_as_null():
    data = {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": (2.0,)}
    rendered = json.loads(FiniteJSONRenderer().render(data))
    assert rendered == {"a": None, "b": [1.5, None, {"c": None}], "d": [2.0]}
    assert finite(1.5) == 1.5 and finite("NaN") == "NaN"


def test_the_event_stream_encodes_non_finite_floats_as_null():
    assert json.loads(events.encode({"duration": float("inf"), "at": [float("nan")]})) == {"duration": None, "at": [None]}


# --- years every conversion survives ----------------------------------------------------------

FAR_YEARS = ["0001-01-01", "0001-01-01 00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("value", FAR_YEARS)
@pytest.mark.parametrize("name", ["start_date", "end_date"])
def test_a_log_filter_in_year_1_or_9999_is_a_400(viewer_client, name, value):
    for url in ("/api/v1/logs", "/api/v1/logs/export"):
        response = viewer_client.get(url, {name: value})
        assert error(response, 400, "VALIDATION_ERROR")["message"].startswith(f"{name}:")


@pytest.mark.parametrize("value", FAR_YEARS)
def test_a_trigger_time_in_year_1_or_9999_is_a_400(admin_client_api, make_task, value):
    task = make_task()
    response = admin_client_api.patch(f"/api/v1/tasks/{task.pk}", {"trigger_time": value}, format="json")
    assert error(response, 400, "VALIDATION_ERROR")["message"].startswith("trigger_time:")


def test_the_admin_form_refuses_a_trigger_time_in_year_1(client, admin_user, make_task):
    from tasks.tests.test_admin import TASKS_URL, task_form, with_empty_inline

    client.force_login(admin_user)
    task = make_task()
    data = task_form(task.account, app_name=task.app_name, trigger_time_0="0001-01-01", trigger_time_1="00:00:00")
    response = client.post(f"{TASKS_URL}{task.pk}/change/", with_empty_inline(data))
    assert response.status_code == 200 and "between the years 1970 and 2099" in response.content.decode()
