"""Base viewset with the API.md §0 conventions: PUT is partial, DELETE answers 200 JSON."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.response import Response


def deleted_response(message: str) -> Response:
    return Response({"message": message, "code": "DELETED"})


class ModelViewSet(viewsets.ModelViewSet):
    def update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        label = str(instance)
        self.perform_destroy(instance)
        return deleted_response(f"{instance._meta.verbose_name} {label} deleted")
