"""Date-times every part of the system can store and compare (issue 13).

Python's datetimes reach year 1 and 9999, but converting year 1 or 9999 to UTC (which the
database adapters, DRF and comparisons do) overflows: an OverflowError, once a 500. Input
date-times are therefore held to years FIRST_YEAR..LAST_YEAR, judged as written (before any
conversion), by the API's fields, the admin forms and the list filters alike.
"""

from __future__ import annotations

from datetime import date

from rest_framework import serializers

FIRST_YEAR, LAST_YEAR = 1970, 2099
YEAR_RULE = f"must be between the years {FIRST_YEAR} and {LAST_YEAR}"


def year_problem(moment: date | None) -> str | None:
    """Why `moment` (a date or datetime, aware or naive) is refused, or None."""
    if moment is None or FIRST_YEAR <= moment.year <= LAST_YEAR:
        return None
    return YEAR_RULE


class BoundedDateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, refusing years outside FIRST_YEAR..LAST_YEAR with a 400."""

    def enforce_timezone(self, value):
        problem = year_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return super().enforce_timezone(value)
