"""Recurring schedules: a five-field cron expression read in an IANA time zone (croniter).

Shared by the API, the admin and the scheduler so that "valid" and "next run" mean the same
thing everywhere.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from croniter import croniter
from django.conf import settings

MAX_EXPRESSION_LENGTH = 100


class ScheduleError(ValueError):
    """An unusable schedule; `field` names what is wrong (`schedule` or `schedule_timezone`)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def zone_of(tz: str) -> zoneinfo.ZoneInfo:
    name = tz or settings.RPA_ROBOT_TIMEZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("schedule_timezone", f"unknown time zone {name!r}") from None


def validate_schedule(expr: str, tz: str = "") -> str:
    """The normalised expression (single spaces); raises ScheduleError when unusable.

    Only the standard five fields (minute hour day month weekday) are accepted: seconds or
    year fields would surprise operators who read the schedule as ordinary cron.
    """
    expr = " ".join((expr or "").split())
    if not expr:
        return ""
    zone_of(tz)
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise ScheduleError("schedule", f"must be at most {MAX_EXPRESSION_LENGTH} characters")
    if len(expr.split(" ")) != 5 and not expr.startswith("@"):
        raise ScheduleError(
            "schedule", "must be a cron expression with five fields: minute hour day month weekday"
        )
    if not croniter.is_valid(expr):
        raise ScheduleError("schedule", f"{expr!r} is not a valid cron expression")
    return expr


def next_run_after(expr: str, tz: str, after: datetime) -> datetime:
    """The first slot of `expr` (read in `tz`) strictly after `after`, as an aware datetime."""
    zone = zone_of(tz)
    return croniter(expr, after.astimezone(zone)).get_next(datetime)
