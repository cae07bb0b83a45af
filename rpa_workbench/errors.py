"""One error shape for every 4xx/5xx: `{"code", "message", "details"}` (API.md §0).

Domain code raises `ApiError` (or a subclass) with a stable code; DRF's own exceptions and any
unexpected exception are translated here, so no view formats errors by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with a stable machine code, e.g. `ApiError(409, "TASK_EXISTS", "...")`."""

    def __init__(self, status_code: int, code: str, message: str, details: Any = None, **extra: Any):
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details
        self.extra = extra
        self.headers: dict[str, str] | None = None  # e.g. Retry-After on a 429
        super().__init__(detail=message, code=code)


class Conflict(ApiError):
    def __init__(self, code: str, message: str, **extra: Any):
        super().__init__(status.HTTP_409_CONFLICT, code, message, **extra)


STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "NOT_AUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(status_code: int, message: str, code: str | None = None, details: Any = None, **extra: Any) -> dict:
    body = {"code": code or STATUS_CODES.get(status_code, "ERROR"), "message": message}
    if details is not None:
        body["details"] = details
    body.update(extra)
    return body


def first_validation_message(detail: Any, prefix: str = "") -> str:
    """`port: must be between 1 and 65535` — the first error, named by its field path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            return first_validation_message(value, name)
        return "invalid input"
    if isinstance(detail, list):
        if not detail:
            return "invalid input"
        return first_validation_message(detail[0], prefix)
    return f"{prefix}: {detail}" if prefix else str(detail)


def payload_too_large_message() -> str:
    return f"request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (files excepted)"


def api_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(413, payload_too_large_message(), "PAYLOAD_TOO_LARGE"), status=413)
    if isinstance(exc, SuspiciousOperation):  # too many fields or files in a form, a bad header …
        return Response(error_body(400, f"bad request: {exc}"), status=400)

    if isinstance(exc, ApiError):
        body = error_body(exc.status_code, exc.message, exc.error_code, exc.details, **exc.extra)
        return Response(body, status=exc.status_code, headers=exc.headers)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        details = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        return Response(error_body(400, first_validation_message(detail), details=details), status=400)

    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(400, f"malformed request body: {exc.detail}"), status=400)

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        status_code = exc.status_code
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            status_code = 401
        message = exc.detail if isinstance(exc.detail, str) else first_validation_message(exc.detail)
        return Response(error_body(status_code, str(message)), status=status_code, headers=headers)

    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__ if context else "view")
    return Response(error_body(500, "internal server error"), status=500)


def json_error_response(status_code: int, message: str, code: str | None = None, **extra: Any) -> JsonResponse:
    return JsonResponse(error_body(status_code, message, code, **extra), status=status_code)


def wants_json(request) -> bool:
    """API clients get JSON errors; people browsing the admin or dashboard get HTML pages."""
    return request.path.startswith("/api/") or request.path == "/health"


def handler404(request, exception=None):
    if wants_json(request):
        return json_error_response(404, "not found")
    return defaults.page_not_found(request, exception)


def handler500(request):
    if wants_json(request):
        return json_error_response(500, "internal server error")
    return defaults.server_error(request)


def handler403(request, exception=None):
    if wants_json(request):
        return json_error_response(403, "permission denied")
    return defaults.permission_denied(request, exception)


def handler400(request, exception=None):
    """Django's own 400s (a SuspiciousOperation outside DRF views); a too big body is a 413."""
    if isinstance(exception, RequestDataTooBig):
        if wants_json(request):
            return json_error_response(413, payload_too_large_message(), "PAYLOAD_TOO_LARGE")
        return HttpResponse("Request body too large", status=413, content_type="text/plain; charset=utf-8")
    if wants_json(request):
        return json_error_response(400, "bad request")
    return defaults.bad_request(request, exception)
