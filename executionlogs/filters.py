"""Filters, search and sort of the execution history (API.md §3)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from executionlogs.models import ExecutionLog, ExecutionStatus
from rpa_workbench.fields import year_problem

SORT_FIELDS = ["start_time", "end_time", "created_at", "duration"]
NULLABLE_SORT_FIELDS = {"end_time", "duration"}


class DateOrDateTimeField(forms.Field):
    """`2026-01-21` or `2026-01-21T14:30:00[+08:00]`; returns a date or an aware datetime.

    Naive date-times (and bare dates, later) are read in the server's time zone.
    """

    default_error_messages = {"invalid": "must be a date (YYYY-MM-DD) or an ISO 8601 date-time"}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        value = str(value).strip()
        # A bare date first: parse_datetime would read `2026-01-20` as midnight.
        parsed = None
        for parse in (parse_date, parse_datetime):
            try:
                parsed = parse(value)
            except ValueError:
                parsed = None
            if parsed is not None:
                break
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        problem = year_problem(parsed)
        if problem:
            raise forms.ValidationError(problem, code="invalid")
        if isinstance(parsed, datetime) and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
        return parsed


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


def log_order(field: str = "start_time", descending: bool = True) -> tuple:
    """The history's order by `field` (nullable fields' nulls last); the primary key breaks ties
    so pages never repeat or skip rows. The list's order when no sort is asked for is
    `log_order()`, the view's queryset's."""
    nulls_last = True if field in NULLABLE_SORT_FIELDS else None
    primary = F(field).desc(nulls_last=nulls_last) if descending else F(field).asc(nulls_last=nulls_last)
    return primary, "-pk" if descending else "pk"


def start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class ExecutionLogFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search text, app, account, host, id")
    status = django_filters.ChoiceFilter(choices=ExecutionStatus.choices)
    app_name = django_filters.CharFilter(field_name="app_name")
    shadow_bot_account = django_filters.CharFilter(field_name="shadow_bot_account")
    host_ip = django_filters.CharFilter(field_name="host_ip")
    start_date = DateOrDateTimeFilter(
        method="filter_start_date", label="Started at or after (date or date-time)"
    )
    end_date = DateOrDateTimeFilter(
        method="filter_end_date", label="Started at or before (a bare date: that whole day)"
    )
    sort_by = django_filters.ChoiceFilter(
        choices=[(name, name) for name in SORT_FIELDS], method="sort", label="Sort field (default start_time)"
    )
    order = django_filters.ChoiceFilter(
        choices=[("desc", "desc"), ("asc", "asc")], method="sort", label="desc (default) or asc"
    )

    class Meta:
        model = ExecutionLog
        fields = ["search", "status", "app_name", "shadow_bot_account", "host_ip", "start_date", "end_date"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        match = (
            Q(text__icontains=value)
            | Q(app_name__icontains=value)
            | Q(shadow_bot_account__icontains=value)
            | Q(host_ip__icontains=value)
        )
        try:
            match |= Q(pk=uuid.UUID(value))
        except ValueError:
            pass
        return queryset.filter(match)

    @extend_schema_field(OpenApiTypes.STR)  # a date or a date-time
    def filter_start_date(self, queryset, name, value):
        bound = value if isinstance(value, datetime) else start_of_day(value)
        return queryset.filter(start_time__gte=bound)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_end_date(self, queryset, name, value):
        if isinstance(value, datetime):
            return queryset.filter(start_time__lte=value)
        return queryset.filter(start_time__lt=start_of_day(value + timedelta(days=1)))

    def sort(self, queryset, name, value):
        """sort_by and order, applied together (either may come alone; neither: the view's order).

        A filter method, not an override of `filter_queryset`: a request naming no filter then
        skips the FilterSet (rpa_workbench/filtering.py)."""
        field = self.form.cleaned_data.get("sort_by") or "start_time"
        descending = (self.form.cleaned_data.get("order") or "desc") == "desc"
        return queryset.order_by(*log_order(field, descending))
