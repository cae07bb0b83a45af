"""The OpenAPI document is the contract (issue 13) and complete documentation (issue 15).

It validates with openapi-spec-validator; every operation has a readable id, a tag, a summary,
every error status with the `{code, message, details}` shape; and real responses, nulls
included, conform to the schemas it states.
"""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.utils import timezone
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from jobs import transitions
from jobs.models import JobSource
from rpa_workbench.schema import DOMAIN_ERRORS
from rpa_workbench.schema_docs import SSE_EVENTS, TAGS
from rpa_workbench.testing.factories import make_account, make_log, make_task
from tasks.models import ControlAction, ControlRequest, ControlSource

METHODS = {"get", "post", "put", "patch", "delete"}
LIST_OPERATIONS = ["accounts_list", "tasks_list", "logs_list", "tasks_control_requests"]


@pytest.fixture
def spec(anon_client) -> dict:
    response = anon_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def operation(spec: dict, operation_id: str) -> dict:
    return next(op for _, _, op in operations(spec) if op["operationId"] == operation_id)


@pytest.mark.django_db
def test_the_document_validates_with_openapi_spec_validator(spec):
    validate(spec)


@pytest.mark.django_db
def test_every_operation_has_a_readable_unique_id_a_described_tag_and_a_summary(spec):
    described = {tag["name"] for tag in TAGS if tag.get("description")}
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    for path, method, op in operations(spec):
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", op["operationId"]), (path, method, op["operationId"])
        assert not op["operationId"].startswith("api_"), op["operationId"]
        assert op.get("summary"), (path, method)
        assert op.get("tags") and set(op["tags"]) <= described, (path, method, op.get("tags"))
    assert {"accounts_list", "tasks_start", "webhook_confirm", "logs_export", "sse_events"} <= set(ids)


@pytest.mark.django_db
def test_every_error_status_has_the_error_shape_and_every_authenticated_operation_its_401(spec):
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message"} and "details" in error["properties"]
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            if int(status) >= 400 and path != "/health":  # /health's 503 is its own body (API.md §8)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)
        if op.get("security") != [{}]:
            assert "401" in op["responses"], (path, method)


@pytest.mark.django_db
def test_domain_statuses_are_documented(spec):
    def statuses(operation_id):
        return set(operation(spec, operation_id)["responses"])

    assert {"409", "502", "503"} <= statuses("tasks_start")
    assert {"409", "502", "503"} <= statuses("tasks_stop")
    assert "409" in statuses("accounts_destroy") and "409" in statuses("tasks_create")
    assert {"400", "413", "415", "503"} <= statuses("webhook_execution_complete")
    assert {"403", "502", "503"} <= statuses("resources_proxy_intranet")
    assert "404" in statuses("resources_config_get")
    assert "500" not in {status for _, _, op in operations(spec) for status in op["responses"]}


@pytest.mark.django_db
def test_every_domain_error_entry_names_an_existing_operation(spec):
    """A renamed or removed operation must not leave its statuses behind in the table."""
    ids = {op["operationId"] for _, _, op in operations(spec)}
    assert set(DOMAIN_ERRORS) <= ids, set(DOMAIN_ERRORS) - ids


@pytest.mark.django_db
def test_delete_answers_200_with_its_json_body(spec):
    deletes = [op for _, method, op in operations(spec) if method == "delete"]
    assert deletes
    for op in deletes:
        assert "204" not in op["responses"]
        body = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Deleted"}
    assert spec["components"]["schemas"]["Deleted"]["required"] == ["message", "code"]


@pytest.mark.django_db
def test_lists_document_the_envelope_and_their_page_parameters(spec):
    for operation_id in LIST_OPERATIONS:
        op = operation(spec, operation_id)
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        envelope = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(envelope["required"]) == {"total", "page", "page_size", "total_pages", "items"}
        names = {p["name"] for p in op["parameters"]}
        assert {"page", "page_size"} <= names, operation_id


@pytest.mark.django_db
def test_log_list_and_export_document_every_filter_and_sort_value(spec):
    for operation_id in ("logs_list", "logs_export"):
        parameters = {p["name"]: p for p in operation(spec, operation_id)["parameters"]}
        assert {"search", "status", "app_name", "shadow_bot_account", "host_ip", "start_date", "end_date"} <= set(
            parameters
        )
        assert set(parameters["sort_by"]["schema"]["enum"]) == {"start_time", "end_time", "created_at", "duration"}
        assert set(parameters["order"]["schema"]["enum"]) == {"asc", "desc"}
        assert set(parameters["status"]["schema"]["enum"]) == {"completed", "failed"}
        assert all(p.get("description") for p in parameters.values()), operation_id


@pytest.mark.django_db
def test_security_schemes_jwt_and_webhook_secret(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["jwtAuth"]["scheme"] == "bearer" and schemes["jwtAuth"]["bearerFormat"] == "JWT"
    assert schemes["webhookToken"] == {**schemes["webhookToken"], "type": "apiKey", "in": "header", "name": "X-Webhook-Token"}
    assert schemes["webhookBearer"]["scheme"] == "bearer"
    robot = [op for path, _, op in operations(spec) if path.startswith("/api/v1/webhook/")]
    robot.append(operation(spec, "resources_config_get"))
    for op in robot:
        assert op["security"][:2] == [{"webhookToken": []}, {"webhookBearer": []}]
        assert op["tags"] == ["webhooks"] or op["operationId"] == "resources_config_get"
    assert {"webhookQueryToken": []} in operation(spec, "webhook_yingdao")["security"]
    assert schemes["webhookQueryToken"]["in"] == "query"
    assert operation(spec, "accounts_list")["security"][0] == {"jwtAuth": []}


@pytest.mark.django_db
def test_the_event_stream_and_its_status_are_documented(spec):
    stream = operation(spec, "sse_events")
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    names = {(p["in"], p["name"]) for p in stream["parameters"]}
    assert {("query", "account_id"), ("query", "token"), ("header", "Last-Event-ID")} <= names
    for event in ("log_created", "account_updated", "task_updated", "heartbeat", "job_updated", "alert"):
        assert event in SSE_EVENTS and f"`{event}`" in stream["description"]
    assert {"connected_clients", "status"} <= set(spec["components"]["schemas"]["SseStatus"]["properties"])


def conforms(spec: dict, operation_id: str, status: int, body) -> None:
    """The body validates against the schema the document states for this status."""
    response = operation(spec, operation_id)["responses"][str(status)]
    schema = dict(response["content"]["application/json"]["schema"], components=spec["components"])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in OAS30Validator(schema).iter_errors(body)]
    assert not errors, (operation_id, errors)


@pytest.mark.django_db
def test_real_responses_with_nulls_conform_to_the_document(spec, admin_client_api, robot_client):
    account = make_account()
    task = make_task(account)
    log = make_log(screenshot_path=None, log_content=None)
    type(log).objects.filter(pk=log.pk).update(end_time=None, duration=None)
    ControlRequest.objects.create(
        task=task, action=ControlAction.START, target="START", source=ControlSource.SCHEDULER, requested_by=None
    )
    reads = {
        "accounts_list": "/api/v1/accounts",
        "accounts_retrieve": f"/api/v1/accounts/{account.pk}",
        "tasks_list": "/api/v1/tasks",
        "tasks_retrieve": f"/api/v1/tasks/{task.pk}",
        "tasks_control_requests": f"/api/v1/tasks/{task.pk}/control-requests",
        "logs_list": "/api/v1/logs",
        "auth_me": "/api/v1/auth/me",
        "sse_status": "/api/v1/sse/status",
        "dashboard_stats": "/api/v1/dashboard/stats",
        "dashboard_performance": "/api/v1/dashboard/performance?days=365",
        "dashboard_execution_rank": "/api/v1/dashboard/execution-rank",
    }
    for operation_id, url in reads.items():
        response = admin_client_api.get(url)
        assert response.status_code == 200, (url, response.content)
        conforms(spec, operation_id, 200, response.json())
    audit = admin_client_api.get(f"/api/v1/tasks/{task.pk}/control-requests").json()["items"]
    assert audit[0]["requested_by"] is None

    with transaction.atomic():
        job = transitions.create(task=make_task(), source=JobSource.SCHEDULER, now=timezone.now(), user=None)
    for operation_id, url in {"jobs_list": "/api/v1/jobs", "jobs_retrieve": f"/api/v1/jobs/{job.pk}"}.items():
        response = admin_client_api.get(url)
        assert response.status_code == 200, (url, response.content)
        conforms(spec, operation_id, 200, response.json())
    assert admin_client_api.get(f"/api/v1/jobs/{job.pk}").json()["requested_by"] is None
    unconfigured = admin_client_api.post("/api/v1/jobs", {"task_id": str(task.pk)}, format="json")
    assert unconfigured.status_code == 503
    conforms(spec, "jobs_create", 503, unconfigured.json())


    robot_answers = {
        "webhook_confirm": ("confirm", {"shadow_bot_account": "nobody", "app_name": "x", "action": "START"}),
        "webhook_heartbeat": ("heartbeat", {"shadow_bot_account": "nobody", "app_name": "x"}),
    }
    for operation_id, (name, body) in robot_answers.items():
        response = robot_client.post(f"/api/v1/webhook/{name}", body, format="json")
        assert response.status_code == 200, response.content
        conforms(spec, operation_id, 200, response.json())

    deleted = admin_client_api.delete(f"/api/v1/tasks/{task.pk}")
    conforms(spec, "tasks_destroy", 200, deleted.json())
    refused = admin_client_api.post("/api/v1/accounts", {"port": "x"}, format="json")
    conforms(spec, "accounts_create", 400, refused.json())


@pytest.mark.django_db
def test_a_multipart_body_django_cannot_parse_is_a_json_400(admin_client_api):
    """Daphne parses only POST multipart bodies itself; a PATCH reaches DRF's parser."""
    account = make_account()
    response = admin_client_api.generic(
        "PATCH", f"/api/v1/accounts/{account.pk}", b"garbage", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.django_db
def test_too_many_form_fields_is_a_json_400(admin_client_api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{n}=1" for n in range(50))
    response = admin_client_api.generic(
        "POST", "/api/v1/accounts", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
