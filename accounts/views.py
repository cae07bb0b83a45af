from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from accounts import presence, services
from accounts.filters import AccountFilter
from accounts.models import Account
from accounts.serializers import AccountSerializer
from rpa_workbench.history import HistoryMixin
from rpa_workbench.list_cache import CachedListMixin
from rpa_workbench.viewsets import ModelViewSet
from tasks.models import Task

# Each account's number of tasks as a correlated subquery, not a JOIN + GROUP BY: the page's
# count() then drops it (Django strips unused non-aggregate annotations) and is a plain COUNT.
TASK_COUNT = Coalesce(
    Subquery(
        Task.objects.filter(account=OuterRef("pk")).order_by().values("account").annotate(n=Count("*")).values("n"),
        output_field=IntegerField(),
    ),
    0,
)


class AccountViewSet(CachedListMixin, HistoryMixin, ModelViewSet):
    # The task count is resolved once, here (each request clones the query); the presence,
    # which depends on the moment, is added to a list's page only (annotate_rows).
    queryset = Account.objects.annotate(task_count=TASK_COUNT).order_by("-created_at")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    cache_time_derived = True  # presence, from the last contact and the moment

    def cache_clock(self):
        return presence.clock()

    def annotate_rows(self, queryset):
        if "presence" in queryset.query.annotations:  # filtered by presence: keep that moment's
            return queryset
        return presence.with_presence(queryset)

    def delete_instance(self, instance):
        services.delete_account(instance)
