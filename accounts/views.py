from __future__ import annotations

from django.db.models import Count

from accounts import services
from accounts.filters import AccountFilter
from accounts.models import Account
from accounts.serializers import AccountSerializer
from rpa_workbench.viewsets import ModelViewSet


class AccountViewSet(ModelViewSet):
    queryset = Account.objects.annotate(task_count=Count("tasks")).order_by("-created_at")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter

    def perform_destroy(self, instance):
        services.delete_account(instance)
