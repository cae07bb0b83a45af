from __future__ import annotations

from django.db.models import Count

from accounts import presence, services
from accounts.filters import AccountFilter
from accounts.models import Account
from accounts.serializers import AccountSerializer
from rpa_workbench.viewsets import ModelViewSet


class AccountViewSet(ModelViewSet):
    queryset = Account.objects.annotate(task_count=Count("tasks")).order_by("-created_at")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter

    def get_queryset(self):
        return presence.with_presence(super().get_queryset())

    def perform_destroy(self, instance):
        services.delete_account(instance)
