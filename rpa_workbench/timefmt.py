"""One clock: how times and durations are written, for programs and for people.

- `format_datetime` is the API's one datetime format (DRF's DateTimeField output: ISO 8601 in
  the display zone, RPA_DISPLAY_TIMEZONE, with its offset), used by the REST serializers and the
  SSE payloads alike (`ApiJSONEncoder`), so one stream never mixes `Z`, `+08:00` and `+00:00`.
- `display_datetime` writes a moment for people (titles, captions, messages): in the display
  zone, `2026-01-21 14:30` (or with seconds), the format the admin's columns use.
- `format_duration` writes seconds for people, always with a unit.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import serializers

_API_DATETIME = serializers.DateTimeField()


def format_datetime(value: dt.datetime) -> str:
    """The API's datetime text (naive values are taken as the display zone's)."""
    return _API_DATETIME.to_representation(value)


def display_datetime(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """A moment as people read it, in the display zone: "2026-01-21 14:30" ("—" for none)."""
    if value is None:
        return "—"
    from django.utils import timezone

    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def api_values(value: Any) -> Any:
    """`value` with every datetime inside (dicts, lists) replaced by its API text."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dict):
        return {key: api_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [api_values(item) for item in value]
    return value


class ApiJSONEncoder(DjangoJSONEncoder):
    """Django's encoder, with datetimes written exactly as the REST API writes them."""

    def default(self, o):
        if isinstance(o, dt.datetime):
            return format_datetime(o)
        return super().default(o)


def format_duration(seconds) -> str:
    """754 → "12m 34s", 86400 → "24h 0m", 42.5 → "42.5s", None (or a non-finite bad row) → "—"."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:,}h {minutes}m"
