"""Input validation and OpenAPI shapes for the resources endpoints."""

from __future__ import annotations

from rest_framework import serializers


class RobotTaskSerializer(serializers.Serializer):
    shadow_bot_account = serializers.CharField(max_length=100)
    app_name = serializers.CharField(max_length=200)
    host_ip = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)


class ConfigUploadSerializer(RobotTaskSerializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class ConfigUploadResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    file_url = serializers.CharField()
    config_file_path = serializers.CharField()
    message = serializers.CharField()


class TaskConfigResponseSerializer(serializers.Serializer):
    config_file = serializers.BooleanField()
    config_file_url = serializers.CharField(allow_null=True)
    config_info = serializers.BooleanField()
    config_json = serializers.CharField(allow_null=True)
    job_id = serializers.CharField(allow_null=True, help_text="the task's current dispatched or running job (API.md §11)")
    inputs = serializers.JSONField(allow_null=True, help_text="that job's inputs {name: value}, secrets in clear")
    secret_inputs = serializers.ListField(child=serializers.CharField(), help_text="which of the inputs are secret")


class ProxyQuerySerializer(serializers.Serializer):
    url = serializers.CharField(max_length=4096)
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True)
    sig = serializers.CharField(required=False, help_text="signature of a signed URL (no auth header needed)")


class IntranetQuerySerializer(serializers.Serializer):
    backend_ip = serializers.CharField(max_length=64)
    backend_port = serializers.CharField(max_length=8)
    tak = serializers.CharField(max_length=200)
    target = serializers.CharField(max_length=16)


class IntranetResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    response_status = serializers.IntegerField(allow_null=True)
