from __future__ import annotations

import django_filters
from django.db.models import Q

from tasks.models import Task, TaskStatus


class TaskFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search task name, app, account, host")
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    app_name = django_filters.CharFilter(field_name="app_name", lookup_expr="iexact")
    shadow_bot_account = django_filters.CharFilter(field_name="account__shadow_bot_account")
    host_ip = django_filters.CharFilter(field_name="account__host_ip")
    account_id = django_filters.UUIDFilter(field_name="account_id")

    class Meta:
        model = Task
        fields = ["search", "status", "app_name", "shadow_bot_account", "host_ip", "account_id"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(task_name__icontains=value)
            | Q(app_name__icontains=value)
            | Q(account__shadow_bot_account__icontains=value)
            | Q(account__host_ip__icontains=value)
        )
