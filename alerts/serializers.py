from __future__ import annotations

from rest_framework import serializers

from accounts.models import Account
from alerts.models import Alert, AlertEvent, Channel, ChannelKind, Delivery
from alerts.targets import TargetError, clean_target, masked_target
from rpa_workbench.permissions import is_admin


def clean_events(values) -> list[str]:
    """Known events only, each once, in the order of AlertEvent."""
    unknown = [value for value in values if value not in AlertEvent.values]
    if unknown:
        raise serializers.ValidationError(f"unknown event(s): {', '.join(map(str, unknown))}")
    return [event for event in AlertEvent.values if event in values]


class ChannelSerializer(serializers.ModelSerializer):
    """`secret` is write-only: accepted, never returned. Sending "" clears it; leaving it out keeps it.
    `target` is shown whole to admins only; others get it cut after the host (its query or path
    is a credential: `masked_target`)."""

    id = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500, trim_whitespace=False)
    events = serializers.ListField(child=serializers.CharField(), required=False)
    account_ids = serializers.PrimaryKeyRelatedField(
        source="accounts", many=True, required=False, queryset=Account.objects.all(), pk_field=serializers.UUIDField()
    )
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "target", "secret", "has_secret", "enabled", "events", "account_ids", "created_at"]
        read_only_fields = ["created_at"]

    def get_has_secret(self, channel: Channel) -> bool:
        return bool(channel.secret)

    def validate_events(self, value):
        return clean_events(value)

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        if "target" in attrs or "kind" in attrs:
            try:
                attrs["target"] = clean_target(kind, attrs.get("target", getattr(self.instance, "target", "")))
            except TargetError as exc:
                raise serializers.ValidationError({"target": [str(exc)]}) from None
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["account_ids"] = [str(pk) for pk in data["account_ids"]]
        request = self.context.get("request")
        if not is_admin(getattr(request, "user", None)):
            data["target"] = masked_target(instance.kind, instance.target)
        return data


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    channel_id = serializers.CharField(read_only=True)
    alert_id = serializers.CharField(read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel_id",
            "alert_id",
            "event",
            "message",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class TestResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class AlertSerializer(serializers.ModelSerializer):
    """A raised alert (`GET /api/v1/alerts`): what happened, to which robot/task/job, when."""

    id = serializers.CharField(read_only=True)
    account_id = serializers.CharField(read_only=True, allow_null=True)
    task_id = serializers.CharField(read_only=True, allow_null=True)
    job_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = ["id", "event", "severity", "message", "account_id", "task_id", "job_id", "context", "occurred_at"]
        read_only_fields = fields
