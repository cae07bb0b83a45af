"""The queue and item objects of API.md §13."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from rpa_workbench.errors import Conflict
from tasks.models import Task
from workqueues import counting
from workqueues.models import ItemStatus, QueueItem, WorkQueue


class WorkQueueSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    max_retries = serializers.IntegerField(min_value=0, max_value=10, required=False)
    retry_delay_seconds = serializers.IntegerField(min_value=0, max_value=7 * 86400, required=False)
    sla_minutes = serializers.IntegerField(min_value=1, max_value=365 * 1440, required=False, allow_null=True)
    abandon_after_minutes = serializers.IntegerField(min_value=1, max_value=30 * 1440, required=False)
    task_id = serializers.UUIDField(required=False, allow_null=True)
    trigger_min_items = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    trigger_max_jobs = serializers.IntegerField(min_value=1, max_value=50, required=False)
    counts = serializers.SerializerMethodField()
    oldest_new_at = serializers.SerializerMethodField()

    class Meta:
        model = WorkQueue
        fields = [
            "id", "name", "description", "max_retries", "retry_delay_seconds", "unique_references", "sla_minutes",
            "abandon_after_minutes", "task_id", "trigger_min_items", "trigger_max_jobs", "counts", "oldest_new_at",
            "created_at", "updated_at",
        ]
        read_only_fields = ["id", "counts", "oldest_new_at", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}  # 409 QUEUE_EXISTS, not a 400 (views)

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("must not be blank")
        return value

    def validate_task_id(self, value):
        if value is not None and not Task.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"task {value} does not exist")
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["task_id"] = str(instance.task_id) if instance.task_id else None
        return data

    def _stats(self, queue: WorkQueue) -> tuple[dict, object]:
        """Counts of the page's queues, read once for the page (context), else for this one."""
        page = self.context.get("queue_stats")
        if page is None or queue.pk not in page:
            page = {queue.pk: (counting.counts_of([queue.pk])[queue.pk], counting.oldest_new_of([queue.pk]).get(queue.pk))}
        return page[queue.pk]

    @extend_schema_field(inline_serializer("QueueCounts", {status: serializers.IntegerField() for status in ItemStatus.values}))
    def get_counts(self, queue: WorkQueue) -> dict[str, int]:
        return self._stats(queue)[0]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))  # null: no new item
    def get_oldest_new_at(self, queue: WorkQueue):
        oldest = self._stats(queue)[1]
        return serializers.DateTimeField().to_representation(oldest) if oldest else None


def page_stats(queues) -> dict:
    ids = [queue.pk for queue in queues]
    counts, oldest = counting.counts_of(ids), counting.oldest_new_of(ids)
    return {pk: (counts[pk], oldest.get(pk)) for pk in ids}


def _id(value) -> str | None:
    return str(value) if value else None


class QueueItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = QueueItem
        fields = [
            "id", "queue_id", "reference", "priority", "status", "payload", "output", "error_type", "error_message",
            "retry_number", "retry_of", "defer_until", "due_at", "account_id", "job_id", "created_at", "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def to_representation(self, item: QueueItem) -> dict:
        data = super().to_representation(item)
        data["id"] = str(item.pk)
        for name in ("queue_id", "account_id", "job_id"):
            data[name] = _id(getattr(item, name))
        data["retry_of"] = _id(item.retry_of_id)
        return data


class BulkItemsSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.DictField(), allow_empty=False, max_length=1000)


class TakeSerializer(serializers.Serializer):
    queue = serializers.CharField(max_length=100)
    shadow_bot_account = serializers.CharField(max_length=100)
    app_name = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


def conflict_if_name_taken(name: str, exclude_pk=None) -> None:
    taken = WorkQueue.objects.filter(name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict("QUEUE_EXISTS", f"a queue named {name} exists already")
