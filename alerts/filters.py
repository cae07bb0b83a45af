from __future__ import annotations

import django_filters

from alerts.models import AlertEvent, Delivery, DeliveryStatus


class DeliveryFilter(django_filters.FilterSet):
    channel_id = django_filters.UUIDFilter(field_name="channel_id")
    event = django_filters.ChoiceFilter(choices=AlertEvent.choices)
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = ["channel_id", "event", "status"]
