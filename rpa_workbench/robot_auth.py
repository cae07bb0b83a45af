"""Robots authenticate with the shared webhook secret (API.md §0), compared in constant time."""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework.permissions import BasePermission

from rpa_workbench.errors import ApiError


def presented_token(request) -> str:
    token = request.headers.get("X-Webhook-Token", "")
    if token:
        return token.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return ""


class RobotTokenRequired(BasePermission):
    """Passes only with `X-Webhook-Token: <secret>` or `Authorization: Bearer <secret>`.

    With no secret configured every call is refused: robot endpoints are never open by default.
    """

    def has_permission(self, request, view) -> bool:
        expected = settings.RPA_WEBHOOK_TOKEN
        if not expected:
            raise ApiError(
                503,
                "WEBHOOK_NOT_CONFIGURED",
                "robot endpoints are disabled: set the RPA_WEBHOOK_TOKEN environment variable "
                "to a shared secret and configure the robots to send it",
            )
        token = presented_token(request)
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            raise ApiError(401, "NOT_AUTHENTICATED", "missing or wrong webhook token")
        return True


class RobotEndpointMixin:
    """For robot-facing views: no user authentication, only the shared secret."""

    authentication_classes: list = []
    permission_classes = [RobotTokenRequired]
