"""`/api/v1/dashboard/…` (API.md §4): parse the query, call one service function, answer JSON."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import serializers, services
from rpa_workbench.list_cache import cached_read, cached_value
from rpa_workbench.permissions import require_perms
from rpa_workbench.timefmt import api_values

CanReadLogs = require_perms("executionlogs.view_executionlog")
CanReadEverything = require_perms(
    "executionlogs.view_executionlog", "accounts.view_account", "tasks.view_task"
)


class StatsView(APIView):
    """Accounts, tasks and executions by status, and the success rate."""

    permission_classes = [CanReadEverything]

    @extend_schema(responses=serializers.StatsResponse)
    def get(self, request):
        stored = cached_value(self, request, services.stored_stats, name="stats")
        return Response(api_values({**stored, "queues": services.queue_stats(), "generated_at": timezone.now()}))


class PerformanceView(APIView):
    """Executions per day or month over the last `days` days, in the requested time zone."""

    permission_classes = [CanReadLogs]
    cache_time_derived = True  # the window ends today

    @extend_schema(parameters=[serializers.PerformanceQuery], responses=serializers.PerformanceResponse)
    @cached_read
    def get(self, request):
        query = serializers.parse(serializers.PerformanceQuery, request.query_params)
        body = services.performance(
            days=query["days"], dimension=query["dimension"], tz_name=query["timezone"]
        )
        body.pop("window")
        return Response(api_values(body))


class ExecutionRankView(APIView):
    """Apps by total run time over the last 7 days, with the trend of their run count."""

    permission_classes = [CanReadLogs]
    cache_time_derived = True  # the window ends now

    @extend_schema(parameters=[serializers.RankQuery], responses=serializers.RankResponse)
    @cached_read
    def get(self, request):
        query = serializers.parse(serializers.RankQuery, request.query_params)
        return Response(api_values(services.execution_rank(limit=query["limit"])))
