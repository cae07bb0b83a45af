from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action

from executionlogs.export import COLUMN_SETS, csv_response
from executionlogs.filters import ExecutionLogFilter, log_order
from executionlogs.models import ExecutionLog
from executionlogs.serializers import ExecutionLogSerializer
from rpa_workbench.errors import ApiError
from rpa_workbench.list_cache import CachedListMixin

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class ExecutionLogViewSet(CachedListMixin, viewsets.ReadOnlyModelViewSet):
    """The execution history: read-only (robots write it through the execution-complete webhook)."""

    queryset = ExecutionLog.objects.order_by(*log_order())
    serializer_class = ExecutionLogSerializer
    filterset_class = ExecutionLogFilter
    lookup_value_regex = UUID_PATTERN
    cache_time_derived = True  # signed links (screenshot_url, log_url) carry the moment

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
        summary="Export matching logs as CSV",
        filters=True,
        parameters=[
            OpenApiParameter(
                "columns",
                str,
                enum=list(COLUMN_SETS),
                description="`extended` adds screenshot_path, log_content and the job's outputs (JSON) after the fixed header",
            )
        ],
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request):
        """Every row matching the list's filters (not one page), streamed as CSV."""
        columns = COLUMN_SETS.get(request.query_params.get("columns") or "default")
        if columns is None:
            raise ApiError(400, "VALIDATION_ERROR", "columns: must be extended (or left out)")
        return csv_response(self.filter_queryset(self.get_queryset()), request._request, columns)
