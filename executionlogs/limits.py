"""Bounds on what an execution report may store (issue 13): one place for the webhook, the
migration that clamps old rows and the dashboard's aggregates."""

from __future__ import annotations

from django.db.models import Case, Expression, F, FloatField, Value, When

# A run longer than 30 days is a robot's clock or arithmetic gone wrong, not a run.
MAX_DURATION_SECONDS = 30 * 86400.0
# Item counts in result_summary: non-negative and at most a billion.
MAX_ITEM_COUNT = 10**9
# result_summary: the documented keys plus at most this many others, together this big as JSON.
RESULT_SUMMARY_KEYS = ("total_items", "success_items", "failed_items", "error_message")
MAX_SUMMARY_EXTRA_KEYS = 32
MAX_SUMMARY_EXTRA_BYTES = 16 * 1024
MAX_SUMMARY_EXTRA_DEPTH = 3
MAX_ERROR_MESSAGE_LENGTH = 10_000


def clamped_duration() -> Expression:
    """`duration` forced into [0, MAX_DURATION_SECONDS] in SQL, for sums and averages.

    Rows stored before the webhook bounded durations (or written by hand) cannot overflow a sum:
    on PostgreSQL NaN sorts above every number, so it counts as the maximum; NULL stays NULL.
    A CASE, not LEAST/GREATEST: SQLite evaluates it at a fifth of the cost of MIN/MAX calls.
    """
    return Case(
        When(duration__gt=MAX_DURATION_SECONDS, then=Value(MAX_DURATION_SECONDS)),
        When(duration__lt=0, then=Value(0.0)),
        default=F("duration"),
        output_field=FloatField(),
    )
