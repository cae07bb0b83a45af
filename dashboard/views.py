"""`/api/v1/dashboard/…` (API.md §4): parse the query, call one service function, answer JSON."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import serializers, services
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
        return Response(api_values(services.dashboard_stats()))


class PerformanceView(APIView):
    """Executions per day or month over the last `days` days, in the requested time zone."""

    permission_classes = [CanReadLogs]

    @extend_schema(parameters=[serializers.PerformanceQuery], responses=serializers.PerformanceResponse)
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

    @extend_schema(parameters=[serializers.RankQuery], responses=serializers.RankResponse)
    def get(self, request):
        query = serializers.parse(serializers.RankQuery, request.query_params)
        return Response(api_values(services.execution_rank(limit=query["limit"])))
