from __future__ import annotations

import django_filters

from alerts.models import Alert, AlertEvent, Delivery, DeliveryStatus, Severity


class DeliveryFilter(django_filters.FilterSet):
    channel_id = django_filters.UUIDFilter(field_name="channel_id")
    event = django_filters.ChoiceFilter(choices=AlertEvent.choices)
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = ["channel_id", "event", "status"]


class AlertFilter(django_filters.FilterSet):
    event = django_filters.ChoiceFilter(choices=AlertEvent.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    account_id = django_filters.UUIDFilter(field_name="account_id")
    task_id = django_filters.UUIDFilter(field_name="task_id")
    job_id = django_filters.UUIDFilter(field_name="job_id")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["event", "severity", "account_id", "task_id", "job_id", "occurred_after", "occurred_before"]
