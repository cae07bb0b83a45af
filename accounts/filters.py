from __future__ import annotations

import django_filters
from django.db.models import Q

from accounts import presence
from accounts.models import Account, AccountStatus
from accounts.presence import PRESENCE_CHOICES


class AccountFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Search name, host IP, recent app, task control")
    status = django_filters.ChoiceFilter(choices=AccountStatus.choices)
    host_ip = django_filters.CharFilter(field_name="host_ip")
    presence = django_filters.ChoiceFilter(choices=PRESENCE_CHOICES, method="filter_presence")

    class Meta:
        model = Account
        fields = ["search", "status", "host_ip", "presence"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(shadow_bot_account__icontains=value)
            | Q(host_ip__icontains=value)
            | Q(recent_app__icontains=value)
            | Q(task_control__icontains=value)
        )

    def filter_presence(self, queryset, name, value):
        return presence.filter_presence(queryset, value)
