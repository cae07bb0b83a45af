"""Query parameters of the dashboard endpoints: bad values are 400s with the API.md error shape."""

from __future__ import annotations

from rest_framework import serializers

from dashboard import services


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
