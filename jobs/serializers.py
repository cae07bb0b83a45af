"""The job object (API.md §9) and the create body."""

from __future__ import annotations

from rest_framework import serializers

from jobs import inputs as job_inputs
from jobs import queue
from jobs.models import Job
from rpa_workbench.representation import ListedFast
from tasks.models import TaskPriority


class JobSerializer(ListedFast, serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    task_id = serializers.SerializerMethodField()
    account_id = serializers.SerializerMethodField()
    pool_id = serializers.SerializerMethodField(help_text="a pool task's job: its pool (API.md §12); null otherwise")
    retry_of = serializers.SerializerMethodField()
    execution_log_id = serializers.SerializerMethodField()
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="who started it (username); null when no user did"
    )
    queue_position = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField(help_text="the values it was started with; secrets as ******")
    outputs = serializers.JSONField(read_only=True, help_text="{name: value} the run reported; null until then")

    class Meta:
        model = Job
        fields = [
            "id", "task_id", "account_id", "task_name", "shadow_bot_account", "host_ip", "app_name",
            "status", "reason", "priority", "source", "requested_by", "backend", "external_id",
            "attempt", "retry_of", "not_before", "queue_position", "run_timeout_seconds",
            "wait_timeout_seconds", "created_at", "dispatched_at", "started_at", "finished_at",
            "execution_log_id", "inputs", "outputs", "pool_id",
        ]
        read_only_fields = fields

    @staticmethod
    def _id(value) -> str | None:
        return str(value) if value else None

    def get_task_id(self, job: Job) -> str | None:
        return self._id(job.task_id)

    def get_account_id(self, job: Job) -> str | None:
        return self._id(job.account_id)

    def get_pool_id(self, job: Job) -> str | None:
        return self._id(job.pool_id)

    def get_retry_of(self, job: Job) -> str | None:
        return self._id(job.retry_of_id)

    def get_execution_log_id(self, job: Job) -> str | None:
        return self._id(job.execution_log_id)

    def get_inputs(self, job: Job) -> dict | None:
        return job_inputs.masked(job.inputs)

    def get_queue_position(self, job: Job) -> int | None:
        positions = self.context.get("positions")
        if positions is not None:
            return positions.get(job.pk)
        return queue.position(job)


class JobCreateSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    priority = serializers.ChoiceField(choices=TaskPriority.choices, required=False)
    run_timeout_seconds = serializers.IntegerField(min_value=1, max_value=30 * 86400, required=False, allow_null=True)
    wait_timeout_seconds = serializers.IntegerField(min_value=1, max_value=30 * 86400, required=False, allow_null=True)
    inputs = serializers.JSONField(
        required=False, allow_null=True,
        help_text="values for the task's parameters, {name: value} (API.md §11); omitted ones take their defaults",
    )
