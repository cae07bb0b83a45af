"""Robots authenticate with the shared webhook secret (API.md §0), compared in constant time.

Wrong secrets are counted per client address; an address with too many is locked out for a
while (429 `TOO_MANY_REQUESTS`, `Retry-After`), whatever it sends meanwhile (throttling.py)."""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework.permissions import BasePermission

from rpa_workbench import throttling
from rpa_workbench.errors import ApiError


def presented_token(request, *, allow_query: bool = False) -> str:
    """The secret from the headers; or, for callers that cannot set headers (Yingdao's callback,
    whose URL we choose), from `?token=` when `allow_query`."""
    if allow_query:
        token = request.query_params.get("token", "") if hasattr(request, "query_params") else ""
        if token:
            return token.strip()
    token = request.headers.get("X-Webhook-Token", "")
    if token:
        return token.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return ""


def robot_token_valid(request, *, allow_query: bool = False) -> bool:
    """Whether the request carries the webhook secret. Raises 429 while its address is locked
    out; a wrong secret (not a missing one) counts against the address."""
    expected = settings.RPA_WEBHOOK_TOKEN
    keys = throttling.robot_keys(request)
    throttling.refuse_if_locked(keys, "webhook secrets")
    token = presented_token(request, allow_query=allow_query)
    if not token:
        return False
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return True
    throttling.record_failure(keys)
    return False


class RobotTokenRequired(BasePermission):
    """Passes only with `X-Webhook-Token: <secret>` or `Authorization: Bearer <secret>`.

    With no secret configured every call is refused: robot endpoints are never open by default.
    """

    allow_query = False

    def has_permission(self, request, view) -> bool:
        expected = settings.RPA_WEBHOOK_TOKEN
        if not expected:
            raise ApiError(
                503,
                "WEBHOOK_NOT_CONFIGURED",
                "robot endpoints are disabled: set the RPA_WEBHOOK_TOKEN environment variable "
                "to a shared secret and configure the robots to send it",
            )
        if not robot_token_valid(request, allow_query=self.allow_query):
            raise ApiError(401, "NOT_AUTHENTICATED", "missing or wrong webhook token")
        return True


class RobotQueryTokenRequired(RobotTokenRequired):
    """The same secret, also accepted as `?token=` (the Yingdao callback URL, API.md §5)."""

    allow_query = True


class RobotEndpointMixin:
    """For robot-facing views: no user authentication, only the shared secret."""

    authentication_classes: list = []
    permission_classes = [RobotTokenRequired]
