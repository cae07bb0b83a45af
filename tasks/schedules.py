"""Recurring schedules: a five-field cron expression read in an IANA time zone (croniter).

Shared by the API, the admin and the scheduler so that "valid" and "next run" mean the same
thing everywhere.

Daylight saving time (docs/hardening-input.md), the rule of classic cron:
- autumn, a wall-clock time that happens twice (02:30 in Europe/Berlin on the last Sunday of
  October) fires once, at its first occurrence — unless the expression runs every hour (hour
  field `*`), which keeps running in real time through the repeated hour;
- spring, a wall-clock time that does not exist (02:30 when clocks jump 02:00 → 03:00) fires
  once at the first valid instant after the gap (03:00 local), and not again that day.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter
from django.conf import settings
from django.utils.translation import gettext

MAX_EXPRESSION_LENGTH = 100


class ScheduleError(ValueError):
    """An unusable schedule; `field` names what is wrong (`schedule` or `schedule_timezone`).

    `message` is the API's English text; `label` the same for people, in the current language
    (the admin's form shows it)."""

    def __init__(self, field: str, message: str, label: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.label = label or message


def zone_of(tz: str) -> zoneinfo.ZoneInfo:
    name = tz or settings.RPA_ROBOT_TIMEZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            "schedule_timezone", f"unknown time zone {name!r}",
            gettext("Unknown time zone %(zone)s: use an IANA name such as Asia/Shanghai.") % {"zone": repr(name)},
        ) from None


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
        raise ScheduleError(
            "schedule", f"must be at most {MAX_EXPRESSION_LENGTH} characters",
            gettext("At most %(count)d characters.") % {"count": MAX_EXPRESSION_LENGTH},
        )
    if len(expr.split(" ")) != 5 and not expr.startswith("@"):
        raise ScheduleError(
            "schedule", "must be a cron expression with five fields: minute hour day month weekday",
            gettext("A cron expression has five fields: minute hour day month weekday (e.g. 30 8 * * 1-5)."),
        )
    if not croniter.is_valid(expr):
        raise ScheduleError(
            "schedule", f"{expr!r} is not a valid cron expression",
            gettext("%(expr)s is not a valid cron expression.") % {"expr": repr(expr)},
        )
    # Valid fields can still name no date at all (`0 0 30 2 *`, 30 February): refuse it now,
    # not when the scheduler first needs its next run.
    next_run_after(expr, tz, datetime.now(zone_of(tz)))
    return expr


def _second_occurrence(slot: datetime, zone: zoneinfo.ZoneInfo) -> bool:
    """True when `slot` is the repeat of a wall-clock time the autumn change made happen twice."""
    wall = slot.replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset() and slot.utcoffset() == second.utcoffset()


def _every_hour(schedule: croniter) -> bool:
    hours = schedule.expanded[1]
    return hours == ["*"] or len(hours) == 24


def next_run_after(expr: str, tz: str, after: datetime) -> datetime:
    """The first slot of `expr` (read in `tz`) strictly after `after`, as an aware datetime.

    Raises ScheduleError when the expression has no next run. DST as the module doc says
    (croniter already moves a skipped spring slot to the end of the gap).
    """
    zone = zone_of(tz)
    try:
        schedule = croniter(expr, after.astimezone(zone))
        slot = schedule.get_next(datetime)
        if not _every_hour(schedule):
            while _second_occurrence(slot, zone):
                slot = schedule.get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(
            "schedule", f"{expr!r} never matches a date (e.g. 30 February)",
            gettext("%(expr)s never matches a date (e.g. 30 February).") % {"expr": repr(expr)},
        ) from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise ScheduleError(
            "schedule", f"{expr!r} is not a valid cron expression ({exc})",
            gettext("%(expr)s is not a valid cron expression.") % {"expr": repr(expr)},
        ) from None
    return slot
