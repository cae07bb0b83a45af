"""The pool object of API.md §12."""

from __future__ import annotations

from rest_framework import serializers

from pools import services
from pools.models import Pool


class PoolSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    account_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    yingdao_group_uuid = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)

    class Meta:
        model = Pool
        fields = ["id", "name", "description", "account_ids", "yingdao_group_uuid", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("must not be blank")
        return value

    def validate_description(self, value):
        return value or ""

    def validate_yingdao_group_uuid(self, value):
        return (value or "").strip()

    def to_representation(self, pool: Pool):
        data = super().to_representation(pool)
        data["account_ids"] = [str(account.pk) for account in pool.accounts.all()]
        return data

    def create(self, validated_data):
        return services.create_pool(fields=dict(validated_data))

    def update(self, instance, validated_data):
        pool = services.update_pool(pool=instance, changes=dict(validated_data))
        return Pool.objects.prefetch_related("accounts").get(pk=pool.pk)
