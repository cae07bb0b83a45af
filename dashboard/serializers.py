"""Query parameters of the dashboard endpoints: bad values are 400s with the API.md error shape."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from accounts.models import AccountStatus
from dashboard import services
from executionlogs.models import ExecutionStatus
from tasks.models import TaskStatus


class PerformanceQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=7, help_text="the last N days")
    dimension = serializers.ChoiceField(
        choices=services.DIMENSIONS, default=services.DAY, help_text="buckets: calendar days or months"
    )
    timezone = serializers.CharField(
        default=services.DEFAULT_TIMEZONE, help_text="IANA time zone of the buckets, e.g. Asia/Shanghai"
    )

    def validate_timezone(self, value: str) -> str:
        if services.resolve_timezone(value) is None:
            raise serializers.ValidationError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            )
        return value


class RankQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, default=10, help_text="how many apps")


def parse(serializer_class: type[serializers.Serializer], query) -> dict:
    """Validated query parameters (raises ValidationError → 400)."""
    serializer = serializer_class(data=query)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- response shapes (OpenAPI only: the services build the dicts) ---------------------------


def counts(name: str, statuses) -> serializers.Serializer:
    """`{status: count}` with every status present (API.md §4)."""
    return inline_serializer(name, {value: serializers.IntegerField() for value in statuses})


class StatsResponse(serializers.Serializer):
    accounts = inline_serializer(
        "StatsAccounts",
        {"total": serializers.IntegerField(), "by_status": counts("AccountCounts", AccountStatus.values)},
    )
    tasks = inline_serializer(
        "StatsTasks",
        {
            "total": serializers.IntegerField(),
            "by_status": counts("TaskCounts", TaskStatus.values),
            "completed_count": serializers.IntegerField(),
            "failed_count": serializers.IntegerField(),
        },
    )
    execution_logs = inline_serializer(
        "StatsExecutionLogs",
        {
            "total": serializers.IntegerField(),
            "by_status": counts("ExecutionLogCounts", ExecutionStatus.values),
            "success_rate": serializers.FloatField(help_text="percentage, 2 decimals"),
        },
    )
    queues = serializers.ListField(
        child=inline_serializer("StatsQueue", {
            "queue_id": serializers.CharField(), "name": serializers.CharField(), "ready": serializers.IntegerField(),
            "in_progress": serializers.IntegerField(), "done_today": serializers.IntegerField(),
            "successful_today": serializers.IntegerField(), "failed_today": serializers.IntegerField(),
            "success_rate": serializers.FloatField(allow_null=True, help_text="percentage of today's ends, 2 decimals"),
            "oldest_ready_at": serializers.DateTimeField(allow_null=True),
            "oldest_waited_seconds": serializers.FloatField(allow_null=True),
            "sla_minutes": serializers.IntegerField(allow_null=True), "sla_breached": serializers.BooleanField(),
        }),
        help_text="work queues (API.md §13), by name, at most 50",
    )
    generated_at = serializers.DateTimeField()


class PerformanceBucket(serializers.Serializer):
    date = serializers.CharField(help_text="YYYY-MM-DD, or YYYY-MM for dimension=month")
    totalExecutions = serializers.IntegerField()  # noqa: N815 (the existing clients' camelCase)
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    avgDuration = serializers.FloatField(help_text="seconds, 1 decimal")  # noqa: N815


class PerformanceResponse(serializers.Serializer):
    period = serializers.CharField(help_text="last_<days>_days")
    dailyStats = PerformanceBucket(many=True)  # noqa: N815
    totalExecutions = serializers.IntegerField()  # noqa: N815
    completionRate = serializers.FloatField(help_text="fraction 0..1, 2 decimals")  # noqa: N815
    avgDuration = serializers.FloatField(help_text="seconds, 1 decimal")  # noqa: N815


class RankItem(serializers.Serializer):
    app_name = serializers.CharField()
    total_duration = serializers.FloatField(help_text="seconds over the last 7 days")
    execution_count = serializers.IntegerField()
    trend_percent = serializers.FloatField(help_text="change in run count against the 7 days before")


class RankResponse(serializers.Serializer):
    items = RankItem(many=True)
    generated_at = serializers.DateTimeField()
