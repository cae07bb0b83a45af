from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from alerts import services
from alerts.filters import AlertFilter, DeliveryFilter
from alerts.models import Alert, Channel, Delivery
from alerts.serializers import AlertSerializer, ChannelSerializer, DeliverySerializer, TestResultSerializer
from rpa_workbench.history import HistoryMixin
from rpa_workbench.permissions import ModelPermissions, is_admin
from rpa_workbench.viewsets import ModelViewSet


class AdminWrites(permissions.BasePermission):
    """Reading needs the model's view permission; every write is for admins only (API.md §10)."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return is_admin(request.user)


class ChannelViewSet(HistoryMixin, ModelViewSet):
    queryset = Channel.objects.prefetch_related("accounts").order_by("-created_at")
    serializer_class = ChannelSerializer
    permission_classes = [ModelPermissions, AdminWrites]

    @extend_schema(request=None, responses=TestResultSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test message now; the answer says whether the channel accepted it."""
        return Response(services.send_test(self.get_object()))


class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Delivery.objects.order_by("-created_at")
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Raised alerts, newest first (docs/api.md §10)."""

    queryset = Alert.objects.order_by("-occurred_at", "-pk")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"  # not "channels" or "deliveries"
