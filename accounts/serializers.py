from __future__ import annotations

from rest_framework import serializers

from accounts import services
from accounts.models import Account, AccountStatus, DispatchBackend
from accounts.presence import PRESENCE_CHOICES, UNKNOWN
from rpa_workbench.representation import ListedFast
from yingdao import rules


class AccountSerializer(ListedFast, serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    shadow_bot_account = serializers.CharField(max_length=100, trim_whitespace=True)
    host_ip = serializers.IPAddressField(error_messages={"invalid": "must be a valid IPv4 or IPv6 address"})
    port = serializers.IntegerField(
        min_value=1,
        max_value=65535,
        error_messages={
            "min_value": "must be between 1 and 65535",
            "max_value": "must be between 1 and 65535",
            "invalid": "must be a whole number between 1 and 65535",
        },
    )
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)
    recent_app = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True)
    task_count = serializers.IntegerField(read_only=True, default=0)
    max_concurrent_jobs = serializers.IntegerField(
        min_value=1,
        max_value=10,
        required=False,
        error_messages={"min_value": "must be between 1 and 10", "max_value": "must be between 1 and 10"},
    )
    presence = serializers.ChoiceField(choices=PRESENCE_CHOICES, read_only=True, default=UNKNOWN)
    # Yingdao backend (API.md §9.3); the rule lives in yingdao/rules.py.
    dispatch_backend = serializers.ChoiceField(choices=DispatchBackend.choices, required=False)
    yingdao_account_name = serializers.CharField(max_length=200, required=False, allow_blank=True, trim_whitespace=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "shadow_bot_account",
            "host_ip",
            "port",
            "status",
            "recent_app",
            "end_time",
            "task_control",
            "task_count",
            "last_heartbeat_at",
            "last_seen_at",
            "idle_heartbeat_at",
            "max_concurrent_jobs",
            "presence",
            "dispatch_backend",
            "yingdao_account_name",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["end_time", "task_control", "last_heartbeat_at", "last_seen_at", "idle_heartbeat_at", "created_at", "updated_at"]

    def validate(self, attrs):
        instance = self.instance
        name = attrs.get("shadow_bot_account", getattr(instance, "shadow_bot_account", None))
        host_ip = attrs.get("host_ip", getattr(instance, "host_ip", None))
        port = attrs.get("port", getattr(instance, "port", None))
        services.ensure_unique(name, host_ip, port, exclude_pk=getattr(instance, "pk", None))
        backend = attrs.get("dispatch_backend", getattr(instance, "dispatch_backend", DispatchBackend.RELAY))
        limit = attrs.get("max_concurrent_jobs", getattr(instance, "max_concurrent_jobs", 1))
        if backend == DispatchBackend.RELAY and limit != 1:
            raise serializers.ValidationError(
                {
                    "max_concurrent_jobs": [
                        "must be 1 for the relay backend: its stop (target=ALL) stops everything the robot runs"
                    ]
                }
            )
        self._validate_backend(attrs)
        return attrs

    def _validate_backend(self, attrs) -> None:
        instance = self.instance
        if instance is not None and not {"dispatch_backend", "yingdao_account_name"} & attrs.keys():
            return
        errors = rules.account_errors(
            dispatch_backend=attrs.get("dispatch_backend", getattr(instance, "dispatch_backend", DispatchBackend.RELAY)),
            yingdao_account_name=attrs.get("yingdao_account_name", getattr(instance, "yingdao_account_name", "")),
            account=instance,
        )
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})

    def create(self, validated_data):
        return services.create_account(**validated_data)

    def update(self, instance, validated_data):
        return services.update_account(instance, **validated_data)
