"""Filters of a queue's item list (API.md §13)."""

from __future__ import annotations

import django_filters

from executionlogs.filters import DateOrDateTimeFilter
from tasks.models import TaskPriority
from workqueues.models import ItemStatus, QueueItem


class QueueItemFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ItemStatus.choices)
    reference = django_filters.CharFilter(field_name="reference")
    priority = django_filters.ChoiceFilter(choices=TaskPriority.choices)
    created_after = DateOrDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateOrDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = QueueItem
        fields: list[str] = []
