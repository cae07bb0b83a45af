"""`/api/v1/pools` (API.md §12): thin views over pools.services (via the serializer)."""

from __future__ import annotations

from pools import services
from pools.models import Pool
from pools.serializers import PoolSerializer
from rpa_workbench.history import HistoryMixin
from rpa_workbench.permissions import ModelPermissions
from rpa_workbench.viewsets import ModelViewSet


class PoolViewSet(HistoryMixin, ModelViewSet):
    """Pools; creates, edits and deletes go into the pool's admin history."""

    queryset = Pool.objects.prefetch_related("accounts").order_by("name")
    serializer_class = PoolSerializer
    permission_classes = [ModelPermissions]

    def delete_instance(self, instance):
        services.delete_pool(pool=instance)
