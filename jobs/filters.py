"""Filters of the job list (API.md §9)."""

from __future__ import annotations

import django_filters
from rest_framework.exceptions import ValidationError

from executionlogs.filters import DateOrDateTimeFilter
from jobs.models import Job, JobSource, JobStatus
from tasks.models import TaskPriority


class JobFilter(django_filters.FilterSet):
    status = django_filters.CharFilter(method="filter_status", label="One status or a comma list")
    task_id = django_filters.UUIDFilter(field_name="task_id")
    account_id = django_filters.UUIDFilter(field_name="account_id")
    pool_id = django_filters.UUIDFilter(field_name="pool_id")
    shadow_bot_account = django_filters.CharFilter(field_name="shadow_bot_account")
    app_name = django_filters.CharFilter(field_name="app_name", lookup_expr="iexact")
    source = django_filters.ChoiceFilter(choices=JobSource.choices)
    priority = django_filters.ChoiceFilter(choices=TaskPriority.choices)
    created_after = DateOrDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateOrDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Job
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        wanted = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [part for part in wanted if part not in JobStatus.values]
        if unknown:
            raise ValidationError({"status": [f"unknown status {', '.join(unknown)}; one of {', '.join(JobStatus.values)}"]})
        return queryset.filter(status__in=wanted) if wanted else queryset
