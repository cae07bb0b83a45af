"""The work queue API (API.md §13): thin views over workqueues.items and workqueues.csv_upload."""

from __future__ import annotations

import copy

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from rpa_workbench.errors import ApiError, Conflict, first_validation_message
from rpa_workbench.history import HistoryMixin, record_deletion
from rpa_workbench.permissions import ModelPermissions, require_perms
from rpa_workbench.viewsets import ModelViewSet, deleted_response
from workqueues import csv_upload
from workqueues import items as item_flows
from workqueues.filters import QueueItemFilter
from workqueues.models import OPEN, QueueItem, WorkQueue
from workqueues.serializers import (
    BulkItemsSerializer,
    QueueItemSerializer,
    UploadSerializer,
    WorkQueueSerializer,
    conflict_if_name_taken,
    page_stats,
)
from workqueues.validation import ItemInSerializer

CanRead = require_perms("workqueues.view_workqueue", "workqueues.view_queueitem")
CanAddItems = require_perms("workqueues.view_workqueue", "workqueues.add_queueitem")
CanChangeItems = require_perms("workqueues.view_queueitem", "workqueues.change_queueitem")

UploadAnswer = inline_serializer("QueueUploadAnswer", {
    "created": serializers.IntegerField(),
    "errors": serializers.ListField(child=serializers.DictField()),
})
BulkAnswer = inline_serializer("QueueBulkAnswer", {
    "created": serializers.IntegerField(), "ids": serializers.ListField(child=serializers.CharField()),
})


def validated_item(data, index: int | None = None) -> dict:
    body = ItemInSerializer(data=data)
    if not body.is_valid():
        prefix = f"items[{index}]." if index is not None else ""
        details = body.errors if index is None else {"items": {str(index): body.errors}}
        raise ApiError(400, "VALIDATION_ERROR", prefix + first_validation_message(body.errors), details=details)
    return body.validated_data


class WorkQueueViewSet(HistoryMixin, ModelViewSet):
    """Queues; creates, edits and deletes go into the queue's admin history (rpa_workbench.history)."""

    queryset = WorkQueue.objects.order_by("name")
    serializer_class = WorkQueueSerializer
    permission_classes = [ModelPermissions]

    def get_permissions(self):
        if self.action == "items":
            return [CanAddItems() if self.request.method == "POST" else CanRead()]
        if self.action == "upload":
            return [CanAddItems()]
        return super().get_permissions()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "queue_stats": page_stats(page)}
        return self.get_paginated_response(WorkQueueSerializer(page, many=True, context=context).data)

    def perform_create(self, serializer):
        conflict_if_name_taken(serializer.validated_data["name"])
        super().perform_create(serializer)

    def perform_update(self, serializer):
        if "name" in serializer.validated_data:
            conflict_if_name_taken(serializer.validated_data["name"], exclude_pk=serializer.instance.pk)
        super().perform_update(serializer)

    def destroy(self, request, *args, **kwargs):
        queue = self.get_object()
        with transaction.atomic():
            WorkQueue.objects.select_for_update().filter(pk=queue.pk).first()
            if queue.items.filter(status__in=OPEN).exists():
                raise Conflict("QUEUE_NOT_EMPTY", f"queue {queue.name} still has new or in-progress items")
            gone = copy.copy(queue)  # Django clears the instance's key on delete
            queue.delete()
        record_deletion(user=request.user, instance=gone)
        return deleted_response(f"queue {queue.name} deleted")

    @extend_schema(methods=["GET"], operation_id="queues_items_list", request=None, filters=True,
                   responses=QueueItemSerializer(many=True), parameters=[OpenApiParameter(name, str, required=False) for name in
                                                                          ("status", "reference", "priority", "created_after", "created_before")])
    @extend_schema(methods=["POST"], operation_id="queues_items_create", request=ItemInSerializer,
                   responses={201: QueueItemSerializer},
                   description="One item, or `{\"items\": [...]}` (≤ 1,000, all or nothing) → 201 `{created, ids}`.")
    @action(detail=True, methods=["get", "post"])
    def items(self, request, pk=None):
        queue = self.get_object()
        if request.method == "GET":
            rows = QueueItemFilter(request.query_params, queryset=queue.items.order_by("-created_at", "-pk"), request=request)
            if not rows.is_valid():
                raise ApiError(400, "VALIDATION_ERROR", first_validation_message(rows.errors), details=rows.errors)
            page = self.paginate_queryset(rows.qs)
            return self.get_paginated_response(QueueItemSerializer(page, many=True).data)
        if isinstance(request.data, dict) and "items" in request.data:
            body = BulkItemsSerializer(data=request.data)
            if not body.is_valid():
                raise ApiError(400, "VALIDATION_ERROR", first_validation_message(body.errors), details=body.errors)
            specs = [validated_item(data, index) for index, data in enumerate(body.validated_data["items"])]
            created = item_flows.add_items(queue=queue, specs=specs)
            return Response({"created": len(created), "ids": [str(item.pk) for item in created]}, status=201)
        created = item_flows.add_items(queue=queue, specs=[validated_item(request.data)])
        return Response(QueueItemSerializer(created[0]).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: UploadAnswer})
    @action(detail=True, methods=["post"], url_path="items/upload")
    def upload(self, request, pk=None):
        queue = self.get_object()
        body = UploadSerializer(data=request.data)
        if not body.is_valid():
            raise ApiError(400, "VALIDATION_ERROR", first_validation_message(body.errors), details=body.errors)
        result = csv_upload.upload(queue=queue, raw=body.validated_data["file"].read())
        if result.errors:
            first = result.errors[0]
            message = f"line {first['line']}: {first['message']}" + (
                f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else "")
            raise ApiError(400, "VALIDATION_ERROR", message, created=0, errors=result.errors)
        return Response({"created": result.created, "errors": []}, status=201)


class QueueItemViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = QueueItem.objects.all()
    serializer_class = QueueItemSerializer

    def get_permissions(self):
        if self.action in ("retry", "delete"):
            return [CanChangeItems()]
        return [require_perms("workqueues.view_queueitem")()]

    @extend_schema(request=None, responses={201: QueueItemSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return Response(QueueItemSerializer(item_flows.retry_item(item=self.get_object())).data, status=201)

    @extend_schema(request=None, responses=QueueItemSerializer)
    @action(detail=True, methods=["post"])
    def delete(self, request, pk=None):
        return Response(QueueItemSerializer(item_flows.delete_item(item=self.get_object())).data)
