"""Base viewset with the API.md §0 conventions: PUT is partial, DELETE answers 200 JSON; a list
page's count runs without what only the page's rows need (`annotate_rows`)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.response import Response


def deleted_response(message: str) -> Response:
    return Response({"message": message, "code": "DELETED"})


class ModelViewSet(viewsets.ModelViewSet):
    def annotate_rows(self, queryset: QuerySet) -> QuerySet:
        """What the representation reads besides the rows' own columns (annotations). One object
        carries it from `get_queryset`; a list adds it to the page's rows only, so the page's
        count is a plain COUNT of the filtered rows."""
        return queryset

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.action == "list" else self.annotate_rows(queryset)

    def list(self, request, *args, **kwargs):
        """DRF's list, with `annotate_rows` applied to the page only."""
        queryset = self.filter_queryset(self.get_queryset())
        if self.paginator is None:
            return Response(self.get_serializer(self.annotate_rows(queryset), many=True).data)
        page = self.paginator.paginate_queryset(queryset, request, view=self, page_rows=self.annotate_rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        label = str(instance)
        self.perform_destroy(instance)
        return deleted_response(f"{instance._meta.verbose_name} {label} deleted")
