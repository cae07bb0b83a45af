"""Task and control-request representations (API.md §2).

A task names its account as the SPA does (`shadow_bot_account` + `host_ip`, `account_port` when
one name runs on several ports of a host) or by `account_id`. `status` is read-only: it changes
only through control and the robot's webhooks.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from resources.signing import link_problem, safe_link
from rpa_workbench.fields import BoundedDateTimeField
from rpa_workbench.parsers import JSONValueError, loads_json_text
from rpa_workbench.representation import ListedFast
from tasks import editing
from tasks import parameters as task_parameters
from tasks.models import ControlRequest, Task, TaskPriority
from tasks.schedules import ScheduleError, validate_schedule
from yingdao import rules

# A trigger time this far in the past is still accepted (clock skew between browser and server).
TRIGGER_TIME_SLACK = timedelta(minutes=1)
ACCOUNT_FIELDS = ("account_id", "shadow_bot_account", "host_ip", "account_port")


@extend_schema_field(OpenApiTypes.STR)
class ConfigJsonField(serializers.Field):
    """JSON text. A JSON object or array sent as such is accepted and stored as its text."""

    def to_internal_value(self, data):
        if data is None or data == "":
            return None
        if isinstance(data, (dict, list)):
            return json.dumps(data, ensure_ascii=False)
        if not isinstance(data, str):
            raise serializers.ValidationError("must be JSON text")
        try:
            loads_json_text(data)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            raise serializers.ValidationError(f"must be valid JSON ({where})") from None
        except JSONValueError as exc:
            raise serializers.ValidationError(f"must be storable JSON: {exc}") from None
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(
    {"type": "array", "maxItems": 50, "items": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 100}, "type": {"type": "string", "enum": list(task_parameters.TYPES)},
        "required": {"type": "boolean"}, "default": {}, "description": {"type": "string"}, "secret": {"type": "boolean"},
    }, "required": ["name"]}}
)
class ParametersField(serializers.Field):
    """The task's parameter definitions (API.md §11); a secret's default is write-only."""

    def to_internal_value(self, data):
        try:
            return task_parameters.definitions(data)
        except task_parameters.ParameterError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return [task_parameters.represent(parameter) for parameter in value.all()]


class TaskSerializer(ListedFast, serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    task_name = serializers.CharField(max_length=200)
    app_name = serializers.CharField(max_length=200)
    account_id = serializers.UUIDField(required=False, allow_null=True)
    shadow_bot_account = serializers.CharField(max_length=100, required=False)
    host_ip = serializers.IPAddressField(
        required=False, error_messages={"invalid": "must be a valid IPv4 or IPv6 address"}
    )
    account_port = serializers.IntegerField(
        min_value=1,
        max_value=65535,
        required=False,
        allow_null=True,
        error_messages={
            "min_value": "must be between 1 and 65535",
            "max_value": "must be between 1 and 65535",
        },
    )
    config_json = ConfigJsonField(required=False, allow_null=True)
    trigger_time = BoundedDateTimeField(required=False, allow_null=True)
    config_file_path = serializers.CharField(
        max_length=500, required=False, allow_null=True, allow_blank=True
    )  # an http(s) URL or a stored file's path (validate_config_file_path)
    remark = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    schedule = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    schedule_timezone = serializers.CharField(
        max_length=64, required=False, allow_blank=True, allow_null=True
    )
    priority = serializers.ChoiceField(choices=TaskPriority.choices, required=False)
    max_retries = serializers.IntegerField(
        min_value=0, max_value=10, required=False,
        error_messages={"min_value": "must be between 0 and 10", "max_value": "must be between 0 and 10"},
    )
    retry_delay_seconds = serializers.IntegerField(
        min_value=0, max_value=86400, required=False,
        error_messages={"min_value": "must be between 0 and 86400", "max_value": "must be between 0 and 86400"},
    )
    run_timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=30 * 86400, required=False, allow_null=True,
        error_messages={"min_value": "must be at least 1 second", "max_value": "must be at most 30 days"},
    )
    wait_timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=30 * 86400, required=False, allow_null=True,
        error_messages={"min_value": "must be at least 1 second", "max_value": "must be at most 30 days"},
    )
    # The Yingdao app's UUID, required on a `yingdao` account's tasks (yingdao/rules.py).
    yingdao_robot_uuid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    parameters = ParametersField(required=False)
    # API.md §12: the pool the task may run on (null: its own robot only), and how many of its
    # jobs may run at once on different robots of that pool.
    pool_id = serializers.UUIDField(required=False, allow_null=True)
    max_parallel_jobs = serializers.IntegerField(
        min_value=1, max_value=50, required=False,
        error_messages={"min_value": "must be between 1 and 50", "max_value": "must be between 1 and 50"},
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "task_name",
            "shadow_bot_account",
            "host_ip",
            "app_name",
            "last_run_time",
            "status",
            "config_file",
            "config_info",
            "config_file_path",
            "config_json",
            "trigger_time",
            "remark",
            "account_port",
            "account_id",
            "schedule",
            "schedule_timezone",
            "next_run_at",
            "priority",
            "max_retries",
            "retry_delay_seconds",
            "run_timeout_seconds",
            "wait_timeout_seconds",
            "yingdao_robot_uuid",
            "parameters",
            "pool_id",
            "max_parallel_jobs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_run_time", "status", "next_run_at", "created_at", "updated_at"]

    def to_representation(self, task):
        data = super().to_representation(task)
        account = task.account
        data.update(
            config_file_path=safe_link(task.config_file_path),
            shadow_bot_account=account.shadow_bot_account,
            host_ip=account.host_ip,
            account_port=account.port,
            account_id=str(account.pk),
            pool_id=str(task.pool_id) if task.pool_id else None,
        )
        return data

    def validate_config_file_path(self, value):
        problem = link_problem(value) if value else None
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_trigger_time(self, value):
        unchanged = self.instance is not None and value == self.instance.trigger_time
        if value is not None and not unchanged and value < timezone.now() - TRIGGER_TIME_SLACK:
            raise serializers.ValidationError(
                "must be in the future (leave it empty to start the task by hand)"
            )
        return value

    def validate(self, attrs):
        instance = self.instance
        account_keys = {k: attrs.pop(k) for k in ACCOUNT_FIELDS if k in attrs}
        if "pool_id" in attrs:
            attrs["pool"] = self._pool(attrs.pop("pool_id"))
        if instance is None or account_keys:
            attrs["account"] = self._account(account_keys)
        for name in ("schedule", "schedule_timezone"):
            if attrs.get(name) is None and name in attrs:
                attrs[name] = ""
        if "schedule" in attrs or "schedule_timezone" in attrs:
            expr = attrs.get("schedule", getattr(instance, "schedule", ""))
            tz = attrs.get("schedule_timezone", getattr(instance, "schedule_timezone", ""))
            try:
                attrs["schedule"] = validate_schedule(expr, tz)
            except ScheduleError as exc:
                raise serializers.ValidationError({exc.field: [exc.message]}) from None
        account = attrs.get("account", getattr(instance, "account", None))
        app_name = attrs.get("app_name", getattr(instance, "app_name", None))
        editing.ensure_unique_app(account, app_name, exclude_pk=getattr(instance, "pk", None))
        self._validate_backend(attrs, account)
        return attrs

    def _validate_backend(self, attrs, account) -> None:
        if self.instance is not None and "account" not in attrs and "yingdao_robot_uuid" not in attrs:
            return
        uuid = attrs.get("yingdao_robot_uuid", getattr(self.instance, "yingdao_robot_uuid", ""))
        errors = rules.task_errors(account=account, yingdao_robot_uuid=uuid)
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})

    def _pool(self, pool_id):
        if pool_id is None:
            return None
        pool = Task._meta.get_field("pool").related_model.objects.filter(pk=pool_id).first()
        if pool is None:
            raise serializers.ValidationError({"pool_id": [f"pool {pool_id} does not exist"]})
        return pool

    def _account(self, keys: dict):
        """The account named by the request; on update, unnamed parts default to the current one."""
        current = getattr(self.instance, "account", None)
        if current is not None and not keys.get("account_id"):
            keys.setdefault("shadow_bot_account", current.shadow_bot_account)
            keys.setdefault("host_ip", current.host_ip)
            if "account_port" not in keys and {"shadow_bot_account", "host_ip"} <= keys.keys():
                same = (
                    keys["shadow_bot_account"] == current.shadow_bot_account
                    and keys["host_ip"] == current.host_ip
                )
                keys["account_port"] = current.port if same else None
        try:
            return editing.resolve_account(
                account_id=keys.get("account_id"),
                shadow_bot_account=keys.get("shadow_bot_account"),
                host_ip=keys.get("host_ip"),
                port=keys.get("account_port"),
            )
        except editing.AccountNotFound as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None

    def create(self, validated_data):
        return editing.create_task(fields=validated_data, user=self.context["request"].user)

    def update(self, instance, validated_data):
        return editing.update_task(task=instance, changes=validated_data, user=self.context["request"].user)


class ControlRequestSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    task_id = serializers.SerializerMethodField()
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="who asked (username); null when no user did (scheduler)"
    )

    class Meta:
        model = ControlRequest
        fields = [
            "id",
            "task_id",
            "action",
            "source",
            "requested_by",
            "shadow_bot_account",
            "host_ip",
            "port",
            "app_name",
            "target",
            "outcome",
            "relay_url",
            "response_status",
            "error",
            "latency_ms",
            "created_at",
            "confirmed_at",
        ]
        read_only_fields = fields

    def get_task_id(self, request: ControlRequest) -> str | None:
        return str(request.task_id) if request.task_id else None
