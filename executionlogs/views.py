from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action

from executionlogs.export import csv_response
from executionlogs.filters import ExecutionLogFilter
from executionlogs.models import ExecutionLog
from executionlogs.serializers import ExecutionLogSerializer

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class ExecutionLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The execution history: read-only (robots write it through the execution-complete webhook)."""

    queryset = ExecutionLog.objects.all()
    serializer_class = ExecutionLogSerializer
    filterset_class = ExecutionLogFilter
    lookup_value_regex = UUID_PATTERN

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY}, summary="Export matching logs as CSV", filters=True
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request):
        """Every row matching the list's filters (not one page), streamed as CSV."""
        return csv_response(self.filter_queryset(self.get_queryset()), request._request)
