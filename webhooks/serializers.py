"""Input validation for the robot webhooks (API.md §5): every refusal is a 400 naming the field.

Every value is bounded before it reaches the database (docs/hardening-input.md): strings to their
columns, numbers to a finite sane range, `result_summary` to its documented keys plus a small
set of extras, links to http(s) URLs and stored-file paths.
"""

from __future__ import annotations

import json
import zoneinfo

from django.conf import settings
from rest_framework import serializers

from executionlogs import limits
from executionlogs.models import ExecutionLog
from executionlogs.services import ROBOT_STATUSES
from jobs import outputs as job_outputs
from resources.signing import link_problem
from rpa_workbench.fields import BoundedDateTimeField
from rpa_workbench.parsers import JSONValueError, check_json_value

IP_ERRORS = {"invalid": "must be a valid IPv4 or IPv6 address"}


class RobotDateTimeField(BoundedDateTimeField):
    """ISO 8601 with an offset, or a naive `YYYY-MM-DD HH:MM:SS` read in RPA_ROBOT_TIMEZONE.

    Values are always returned aware, so the database stores an exact instant; years outside
    1970..2099 are refused (see rpa_workbench.fields).
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
    """`app_name` may be left out: that is the idle heartbeat, "I am here and run nothing"
    (jobs/idle.py): it ends the jobs the robot no longer runs."""

    app_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def item_count() -> serializers.IntegerField:
    bound = f"must be a whole number between 0 and {limits.MAX_ITEM_COUNT}"
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=limits.MAX_ITEM_COUNT,
        error_messages={"min_value": bound, "max_value": bound, "invalid": bound},
    )


def link_field() -> serializers.CharField:
    column = ExecutionLog._meta.get_field("screenshot_path").max_length
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=column)


class ResultSummarySerializer(serializers.Serializer):
    total_items = item_count()
    success_items = item_count()
    failed_items = item_count()
    error_message = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=limits.MAX_ERROR_MESSAGE_LENGTH
    )

    def to_internal_value(self, data):
        known = super().to_internal_value(data)
        # Keep whatever else the robot reported (it is history, stored as JSON), within bounds.
        extra = {key: value for key, value in data.items() if key not in self.fields}
        self._check_extras(extra)
        return {**extra, **known}

    @staticmethod
    def _check_extras(extra: dict) -> None:
        if len(extra) > limits.MAX_SUMMARY_EXTRA_KEYS:
            raise serializers.ValidationError(
                f"at most {limits.MAX_SUMMARY_EXTRA_KEYS} keys besides {', '.join(limits.RESULT_SUMMARY_KEYS)} "
                f"(got {len(extra)})"
            )
        for key, value in extra.items():
            if len(key) > 100:
                raise serializers.ValidationError({key[:100]: ["key must be at most 100 characters"]})
            try:
                check_json_value(value, max_depth=limits.MAX_SUMMARY_EXTRA_DEPTH)
            except JSONValueError as exc:
                raise serializers.ValidationError({key: [exc.message]}) from None
        size = len(json.dumps(extra, ensure_ascii=False).encode())
        if size > limits.MAX_SUMMARY_EXTRA_BYTES:
            raise serializers.ValidationError(
                f"the keys besides {', '.join(limits.RESULT_SUMMARY_KEYS)} must be at most "
                f"{limits.MAX_SUMMARY_EXTRA_BYTES} bytes as JSON (got {size})"
            )


class ExecutionCompleteSerializer(RobotIdentitySerializer):
    status = serializers.CharField(max_length=32)
    start_time = RobotDateTimeField()
    end_time = RobotDateTimeField(required=False, allow_null=True)
    duration_seconds = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=limits.MAX_DURATION_SECONDS,
        error_messages={
            key: f"must be a finite number of seconds between 0 and {limits.MAX_DURATION_SECONDS:.0f} (30 days)"
            for key in ("min_value", "max_value", "invalid", "overflow", "max_string_length")
        },
    )
    result_summary = ResultSummarySerializer(required=False, allow_null=True)
    log_info = serializers.BooleanField(required=False, allow_null=True, default=None)
    screenshot = serializers.BooleanField(required=False, allow_null=True, default=None)
    screenshot_url = link_field()
    log_url = link_field()
    execution_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    outputs = serializers.JSONField(
        required=False, allow_null=True,
        help_text="the run's results (API.md §11): {name: value} or [{name, value, type}]; ≤ 100 names, 64 KB",
    )

    def validate_outputs(self, value):
        try:
            return job_outputs.parse(value)
        except job_outputs.OutputsError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_status(self, value: str) -> str:
        status = value.strip().lower()
        if status not in ROBOT_STATUSES:
            raise serializers.ValidationError(f"must be one of {', '.join(ROBOT_STATUSES)} (got {value!r})")
        return status

    def _validate_link(self, value: str | None) -> str | None:
        problem = link_problem(value) if value else None
        if problem:
            raise serializers.ValidationError(problem)
        return value

    validate_screenshot_url = _validate_link
    validate_log_url = _validate_link

    def validate(self, attrs):
        start, end = attrs["start_time"], attrs.get("end_time")
        if end is not None and end < start:
            raise serializers.ValidationError({"end_time": ["must not be before start_time"]})
        if end is not None and attrs.get("duration_seconds") is None:
            # The duration is then computed from the times: it must obey the same bound.
            if (end - start).total_seconds() > limits.MAX_DURATION_SECONDS:
                raise serializers.ValidationError({"end_time": ["must be at most 30 days after start_time"]})
        return attrs

    def service_kwargs(self) -> dict:
        """The validated body as keyword arguments of `jobs.reports.record_execution`."""
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
            "outputs": data.get("outputs"),
        }


class YingdaoCallbackSerializer(serializers.Serializer):
    """Yingdao's callback body as it comes (`dataType` job or task); yingdao.callbacks reads it."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"body": ["expected a JSON object"]})
        return {"body": dict(data)}
