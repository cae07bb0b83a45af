"""Service endpoints: health and the current user."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from rpa_workbench.roles import role_of

logger = logging.getLogger(__name__)


def health(request):
    """`/health`: 200 when the database answers, 503 otherwise (no auth, no secrets)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "connected"
    except Exception:
        logger.exception("health check: database unreachable")
        database = "unreachable"
    healthy = database == "connected"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "database": database,
        "version": settings.APP_VERSION,
        "sse": "running",
    }
    return JsonResponse(body, status=200 if healthy else 503)


@extend_schema(
    responses=inline_serializer(
        "Me",
        {
            "id": serializers.CharField(),
            "username": serializers.CharField(),
            "email": serializers.CharField(),
            "role": serializers.CharField(),
            "permissions": serializers.ListField(child=serializers.CharField()),
        },
    )
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request):
    user = request.user
    return Response(
        {
            "id": str(user.pk),
            "username": user.get_username(),
            "email": user.email,
            "role": role_of(user),
            "permissions": sorted(user.get_all_permissions()),
        }
    )
