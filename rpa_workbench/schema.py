"""The OpenAPI document's conventions in one place (API.md §0), so views only describe themselves.

`ApiAutoSchema` (drf-spectacular's AutoSchema) adds to every operation:
- readable operation ids (`accounts_list`, `tasks_start`, `webhook_confirm`);
- a tag per area (`TAGS`) and a summary (given, else the view's docstring, else derived);
- every error status it really answers, each with the `Error` body `{code, message, details}`:
  inferred from the view (auth → 401, permissions → 403, a body or query → 400, a body → 413 and
  415, a path parameter → 404, throttles → 429, the webhook secret → 503) plus the domain
  statuses of `DOMAIN_ERRORS`;
- `DELETE` as 200 with its JSON body `{message, code}` (not 204);
- the webhook secret as security scheme on robot endpoints.

`postprocess` (a SPECTACULAR postprocessing hook) adds what is not a DRF view: the SSE stream and
`/health`, and the descriptions of the security schemes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, serializers

from rpa_workbench import schema_docs
from rpa_workbench.robot_auth import RobotTokenRequired

TAGS = schema_docs.TAGS
STANDARD_ACTIONS = {"list", "create", "retrieve", "update", "partial_update", "destroy"}
ANONYMOUS_PATHS = ("/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/auth/logout")

ERROR_DESCRIPTIONS = {
    400: "Invalid input (VALIDATION_ERROR); `message` names the field, `details` lists every error",
    401: "Missing or invalid credentials (NOT_AUTHENTICATED)",
    403: "Authenticated but not allowed (PERMISSION_DENIED or a more specific code)",
    404: "No such object (NOT_FOUND or a more specific code)",
    409: "Conflicts with the current state (CONFLICT or a more specific code)",
    413: "Request body larger than the server accepts (PAYLOAD_TOO_LARGE)",
    415: "Request body in a media type this operation does not read (UNSUPPORTED_MEDIA_TYPE)",
    416: "The Range header cannot be satisfied",
    429: "Locked out after too many failed attempts (TOO_MANY_REQUESTS); retry after `Retry-After` seconds",
    502: "The upstream (relay or cloud host) failed or answered an error",
    503: "A required backend is not configured or unreachable",
}

CONTROL_FAILED = "CONTROL_REQUEST_FAILED: the dispatch backend (relay, Yingdao) failed, timed out or refused"
NOT_CONFIGURED = "RELAY_NOT_CONFIGURED or BACKEND_NOT_CONFIGURED: the robot's dispatch backend is not set up"

# Statuses that depend on the domain, not on the view's shape: operation id → {status: when}.
DOMAIN_ERRORS: dict[str, dict[int, str]] = {
    "accounts_create": {409: "ACCOUNT_EXISTS: an account with this task_control exists"},
    "accounts_update": {409: "ACCOUNT_EXISTS: the new name/ip/port is another account's"},
    "accounts_partial_update": {409: "ACCOUNT_EXISTS: the new name/ip/port is another account's"},
    "accounts_destroy": {409: "ACCOUNT_HAS_TASKS: tasks are still bound to the account"},
    "tasks_create": {409: "TASK_EXISTS: the account already has a task for this app"},
    "tasks_update": {409: "TASK_EXISTS: the account already has a task for this app"},
    "tasks_partial_update": {409: "TASK_EXISTS: the account already has a task for this app"},
    "tasks_start": {
        409: "TASK_ALREADY_RUNNING, or START_PENDING while the task has a queued or unconfirmed job",
        502: CONTROL_FAILED,
        503: NOT_CONFIGURED,
    },
    "tasks_stop": {409: "TASK_NOT_RUNNING", 502: CONTROL_FAILED, 503: NOT_CONFIGURED},
    "pools_create": {409: "POOL_EXISTS: a pool has this name"},
    "pools_update": {409: "POOL_EXISTS: a pool has this name"},
    "pools_partial_update": {409: "POOL_EXISTS: a pool has this name"},
    "pools_destroy": {409: "POOL_IN_USE: tasks use the pool"},
    "queues_create": {409: "QUEUE_EXISTS: a queue has this name"},
    "queues_update": {409: "QUEUE_EXISTS: a queue has this name"},
    "queues_partial_update": {409: "QUEUE_EXISTS: a queue has this name"},
    "queues_destroy": {409: "QUEUE_NOT_EMPTY: the queue has new or in-progress items"},
    "queues_items_create": {409: "DUPLICATE_REFERENCE: the queue wants unique references and one is taken"},
    "queues_items_upload": {409: "DUPLICATE_REFERENCE: a reference was taken while the file was added"},
    "queue_items_retry": {409: "ITEM_NOT_RETRYABLE (not failed or abandoned) or ITEM_ALREADY_RETRIED"},
    "queue_items_delete": {409: "ITEM_NOT_NEW: only new items are deleted"},
    "webhook_queue_next": {404: "NOT_FOUND: no queue of that name"},
    "webhook_queue_items_result": {409: "ITEM_NOT_IN_PROGRESS: the item is not in progress (a repeat of its result is 200)"},
    "jobs_create": {
        409: "TASK_ALREADY_RUNNING, or START_PENDING while the task has a queued or unconfirmed job",
        502: CONTROL_FAILED,
        503: NOT_CONFIGURED,
    },
    "jobs_cancel": {409: "JOB_NOT_QUEUED"},
    "jobs_stop": {409: "JOB_NOT_RUNNING", 502: CONTROL_FAILED, 503: NOT_CONFIGURED},
    "jobs_retry": {
        409: "JOB_NOT_RETRYABLE (not failed, stopped or cancelled), TASK_NOT_FOUND (task deleted), "
        "TASK_ALREADY_RUNNING or START_PENDING"
    },
    "tasks_force_stop": {409: "TASK_NOT_RUNNING"},
    "resources_proxy_intranet": {
        403: "PERMISSION_DENIED, or CSRF_FAILED: a session caller without a same-origin Origin/Referer",
        502: "CONTROL_REQUEST_FAILED (body adds `success: false` and `url`)",
        503: "RELAY_NOT_CONFIGURED: RPA_RELAY_URL is not set",
    },
    "resources_proxy": {
        403: "PROXY_DISABLED, PROXY_HOST_NOT_ALLOWED, PROXY_ADDRESS_REFUSED, SIGNATURE_EXPIRED/INVALID",
        502: "UPSTREAM_*: the cloud host failed, timed out or sent too much",
    },
    "resources_proxy_download": {
        403: "PROXY_DISABLED, PROXY_HOST_NOT_ALLOWED, PROXY_ADDRESS_REFUSED, SIGNATURE_EXPIRED/INVALID",
        502: "UPSTREAM_*: the cloud host failed, timed out or sent too much",
    },
    "resources_file": {
        403: "PERMISSION_DENIED, or SIGNATURE_EXPIRED/SIGNATURE_INVALID for a signed URL",
        416: "RANGE_NOT_SATISFIABLE",
        # A robot may read its config file with the webhook secret (resources.access).
        429: "TOO_MANY_REQUESTS: this address sent too many wrong webhook secrets; see Retry-After",
    },
    "auth_token": {
        429: "TOO_MANY_REQUESTS: too many wrong passwords for this username or address; see Retry-After",
        503: "LOGIN_BUSY: every password-check slot is busy; retry after `Retry-After` (1 s)",
    },
    "resources_config_get": {404: "TASK_NOT_FOUND: no task for this account and app"},
    "resources_upload_config": {404: "TASK_NOT_FOUND: no task for this account and app"},
}


def error_response(status: int, when: str = "") -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": when or ERROR_DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status == 429 or "Retry-After" in when:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
        }
    return response


def nullable_relation(field: serializers.Field) -> bool:
    """A related field over a nullable foreign key (e.g. `requested_by` of a control request the
    scheduler made) answers null, whether or not the serializer said `allow_null`."""
    if not isinstance(field, serializers.RelatedField) or "." in (field.source or ""):
        return False
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    try:
        return bool(model and model._meta.get_field(field.source).null)
    except FieldDoesNotExist:
        return False


class ApiAutoSchema(AutoSchema):
    def _handler_methods(self) -> list[str]:
        return [m for m in self.view.allowed_methods if m not in ("OPTIONS", "HEAD")]

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        action = getattr(self.view, "action", None)
        if action in STANDARD_ACTIONS or len(self._handler_methods()) > 1:
            return operation_id
        # One operation on this path: its name is the path (`tasks_start`, `webhook_confirm`).
        return operation_id.rsplit("_", 1)[0]

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """drf-spectacular 0.30's (private) per-field mapping: no public hook sees a field with its
        model field, which tells whether a relation can be null. Pinned by test_openapi's
        conformance test (a control request with `requested_by` null)."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "response" and nullable_relation(field):
            schema["nullable"] = True
        if isinstance(field, serializers.IPAddressField) and "format" not in schema:
            # IPv4 or IPv6 (OpenAPI 3.0 has no single format for "either").
            schema["anyOf"] = [{"format": "ipv4"}, {"format": "ipv6"}]
        return schema

    def get_tags(self) -> list[str]:
        first = (self._tokenize_path() or ["service"])[0]
        return [schema_docs.TAG_OF_PATH.get(first, first)]

    def get_summary(self) -> str | None:
        given = schema_docs.SUMMARIES.get(self.get_operation_id())
        if given:
            return given
        action = getattr(self.view, "action", None)
        if action in STANDARD_ACTIONS:
            return schema_docs.standard_summary(action, self.view)
        return schema_docs.first_line(self.get_description())

    def is_robot_endpoint(self) -> bool:
        return any(isinstance(p, RobotTokenRequired) for p in self.view.get_permissions())

    def get_auth(self) -> list[dict[str, list]]:
        if self.is_robot_endpoint():
            schemes = [{"webhookToken": []}, {"webhookBearer": []}]
            if any(getattr(p, "allow_query", False) for p in self.view.get_permissions()):
                schemes.append({"webhookQueryToken": []})
            return schemes
        return super().get_auth()

    def _is_anonymous(self) -> bool:
        perms = self.view.get_permissions()
        return self.path in ANONYMOUS_PATHS or any(isinstance(p, permissions.AllowAny) for p in perms)

    def _inferred_errors(self, operation: dict[str, Any]) -> dict[int, str]:
        has_body = "requestBody" in operation
        parameters = operation.get("parameters", [])
        errors: dict[int, str] = {401: ""}
        if has_body or any(p["in"] == "query" for p in parameters):
            errors[400] = ""
        if has_body:
            errors[413] = ""
            errors[415] = ""
        if any(p["in"] == "path" for p in parameters):
            errors[404] = ""
        if self.is_robot_endpoint():
            errors[503] = "WEBHOOK_NOT_CONFIGURED: RPA_WEBHOOK_TOKEN is not set"
            errors[429] = "TOO_MANY_REQUESTS: this address sent too many wrong secrets; see Retry-After"
        elif not self._is_anonymous() and not all(
            isinstance(p, permissions.IsAuthenticated) for p in self.view.get_permissions()
        ):
            errors[403] = ""
        if self.view.get_throttles():
            errors[429] = ""
        return errors

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if not parameter.get("description") and parameter["name"] in schema_docs.PARAMETER_DESCRIPTIONS:
                parameter["description"] = schema_docs.PARAMETER_DESCRIPTIONS[parameter["name"]]
        responses = operation["responses"]
        if self.method == "DELETE" and "204" in responses:
            del responses["204"]
            responses["200"] = {
                "description": "Deleted",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Deleted"}}},
            }
        errors = self._inferred_errors(operation)
        errors.update(DOMAIN_ERRORS.get(operation["operationId"], {}))
        for status, when in sorted(errors.items()):
            responses.setdefault(str(status), error_response(status, when))
        return operation


def postprocess(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Add the components and paths that are not DRF views (SPECTACULAR POSTPROCESSING_HOOKS)."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(schema_docs.SHARED_SCHEMAS)
    components.setdefault("securitySchemes", {}).update(schema_docs.SECURITY_SCHEMES)
    for name, description in schema_docs.SECURITY_DESCRIPTIONS.items():
        if name in components["securitySchemes"]:
            components["securitySchemes"][name]["description"] = description
    result["paths"].update(schema_docs.extra_paths())
    result["paths"] = dict(sorted(result["paths"].items()))
    return result
