"""What an item may hold (API.md §13), as one DRF serializer used by the API, the CSV upload and
the admin alike: payload and output are JSON objects of at most 64 KB, references at most 128
characters, priorities high|normal|low."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from rpa_workbench.fields import BoundedDateTimeField
from tasks.models import TaskPriority
from workqueues.models import MAX_JSON_BYTES, MAX_REFERENCE, ErrorType


def json_object(value: Any, *, name: str) -> dict:
    """`value` if it is a JSON object that fits in 64 KB (encoded as UTF-8), else a clear error."""
    if not isinstance(value, dict):
        raise serializers.ValidationError(f"{name} must be a JSON object")
    try:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise serializers.ValidationError(f"{name} must not contain NaN or Infinity") from None
    size = len(encoded.encode())
    if size > MAX_JSON_BYTES:
        raise serializers.ValidationError(f"{name} is {size} bytes; at most {MAX_JSON_BYTES} (64 KB)")
    return value


class ItemInSerializer(serializers.Serializer):
    """One item to add."""

    reference = serializers.CharField(max_length=MAX_REFERENCE, required=False, allow_blank=True, default="")
    priority = serializers.ChoiceField(choices=TaskPriority.choices, required=False, default=TaskPriority.NORMAL)
    payload = serializers.JSONField(required=False, default=dict)
    defer_until = BoundedDateTimeField(required=False, allow_null=True, default=None)
    due_at = BoundedDateTimeField(required=False, allow_null=True, default=None)

    def validate_reference(self, value: str) -> str:
        value = value.strip()
        if "\x00" in value:
            raise serializers.ValidationError("must not contain NUL characters")
        return value

    def validate_payload(self, value: Any) -> dict:
        return json_object(value, name="payload")


class ResultSerializer(serializers.Serializer):
    """A robot's result for the item it took."""

    status = serializers.ChoiceField(choices=[("successful", "successful"), ("failed", "failed")])
    output = serializers.JSONField(required=False, allow_null=True, default=None)
    error_type = serializers.ChoiceField(choices=ErrorType.choices, required=False, allow_null=True, default=None)
    error_message = serializers.CharField(required=False, allow_blank=True, allow_null=True, default="", max_length=10_000)

    def validate_output(self, value: Any) -> dict | None:
        return None if value is None else json_object(value, name="output")

    def validate(self, data: dict) -> dict:
        if data["status"] == "successful":
            if data.get("error_type"):
                raise serializers.ValidationError({"error_type": ["only a failed result has an error type"]})
            data["error_type"] = None
        elif not data.get("error_type"):
            data["error_type"] = ErrorType.APPLICATION
        data["error_message"] = data.get("error_message") or ""
        return data
