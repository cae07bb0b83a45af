"""Input validation for the robot webhooks (API.md §5): every refusal is a 400 naming the field."""

from __future__ import annotations

import math
import zoneinfo

from django.conf import settings
from rest_framework import serializers

from executionlogs.services import ROBOT_STATUSES

IP_ERRORS = {"invalid": "must be a valid IPv4 or IPv6 address"}


class RobotDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset, or a naive `YYYY-MM-DD HH:MM:SS` read in RPA_ROBOT_TIMEZONE.

    Values are always returned aware, so the database stores an exact instant.
    """

    default_error_messages = {
        "invalid": "must be an ISO 8601 date-time (with an offset) or 'YYYY-MM-DD HH:MM:SS'",
    }

    def default_timezone(self):
        return zoneinfo.ZoneInfo(settings.RPA_ROBOT_TIMEZONE)


class RobotIdentitySerializer(serializers.Serializer):
    """Who is calling: account name and app name, narrowed by host IP when one name is on several hosts."""

    shadow_bot_account = serializers.CharField(max_length=100)
    app_name = serializers.CharField(max_length=200)
    host_ip = serializers.IPAddressField(
        required=False, allow_null=True, allow_blank=True, error_messages=IP_ERRORS
    )

    def validate_host_ip(self, value):
        return value or None


class ConfirmSerializer(RobotIdentitySerializer):
    action = serializers.CharField(max_length=16)

    def validate_action(self, value: str) -> str:
        action = value.strip().upper()
        if action not in {"START", "STOP"}:
            raise serializers.ValidationError(f"must be START or STOP (got {value!r})")
        return action


class HeartbeatSerializer(RobotIdentitySerializer):
    """`app_name` may be left out: the heartbeat then only says the account is alive."""

    app_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ResultSummarySerializer(serializers.Serializer):
    total_items = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    success_items = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    failed_items = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    error_message = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10000)

    def to_internal_value(self, data):
        known = super().to_internal_value(data)
        # Keep whatever else the robot reported: it is history, stored as JSON.
        extra = {key: value for key, value in data.items() if key not in self.fields}
        return {**extra, **known}


class ExecutionCompleteSerializer(RobotIdentitySerializer):
    status = serializers.CharField(max_length=32)
    start_time = RobotDateTimeField()
    end_time = RobotDateTimeField(required=False, allow_null=True)
    duration_seconds = serializers.FloatField(
        required=False, allow_null=True, min_value=0, error_messages={"min_value": "must not be negative"}
    )
    result_summary = ResultSummarySerializer(required=False, allow_null=True)
    log_info = serializers.BooleanField(required=False, allow_null=True, default=None)
    screenshot = serializers.BooleanField(required=False, allow_null=True, default=None)
    screenshot_url = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=1000)
    log_url = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=1000)
    execution_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)

    def validate_status(self, value: str) -> str:
        status = value.strip().lower()
        if status not in ROBOT_STATUSES:
            raise serializers.ValidationError(f"must be one of {', '.join(ROBOT_STATUSES)} (got {value!r})")
        return status

    def validate_duration_seconds(self, value):
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("must be a finite number of seconds")
        return value

    def validate(self, attrs):
        start, end = attrs["start_time"], attrs.get("end_time")
        if end is not None and end < start:
            raise serializers.ValidationError({"end_time": ["must not be before start_time"]})
        return attrs

    def service_kwargs(self) -> dict:
        """The validated body as keyword arguments of `executionlogs.services.record_execution`."""
        data = self.validated_data
        screenshot_url = data.get("screenshot_url") or None
        log_url = data.get("log_url") or None
        log_info, screenshot = data.get("log_info"), data.get("screenshot")
        return {
            "shadow_bot_account": data["shadow_bot_account"],
            "app_name": data["app_name"],
            "host_ip": data.get("host_ip"),
            "status": data["status"],
            "start_time": data["start_time"],
            "end_time": data.get("end_time"),
            "duration": data.get("duration_seconds"),
            "result_summary": data.get("result_summary"),
            "log_info": bool(log_url) if log_info is None else log_info,
            "screenshot": bool(screenshot_url) if screenshot is None else screenshot,
            "screenshot_url": screenshot_url,
            "log_url": log_url,
            "execution_id": data.get("execution_id") or None,
        }
