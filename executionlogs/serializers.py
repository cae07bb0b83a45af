from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from executionlogs.models import ExecutionLog
from resources.signing import safe_link, signed_resource_url
from rpa_workbench.representation import ListedFast


class LinkField(serializers.CharField):
    """A stored link as the SPA may show it: a value stored before links were checked that is
    not an http(s) URL or a stored-file path (`javascript:…`) is written as null."""

    def to_representation(self, value):
        return safe_link(value)


class ExecutionLogSerializer(ListedFast, serializers.ModelSerializer):
    """The log object of API.md §3, plus signed URLs an `<img>` tag can load without headers."""

    id = serializers.CharField(read_only=True)
    task_id = serializers.CharField(read_only=True, allow_null=True)
    account_id = serializers.CharField(read_only=True, allow_null=True)
    screenshot_url = serializers.SerializerMethodField()
    log_url = serializers.SerializerMethodField()
    screenshot_path = LinkField(read_only=True, allow_null=True)
    log_content = LinkField(read_only=True, allow_null=True)

    class Meta:
        model = ExecutionLog
        fields = [
            "id",
            "text",
            "app_name",
            "shadow_bot_account",
            "status",
            "start_time",
            "end_time",
            "duration",
            "host_ip",
            "log_info",
            "screenshot",
            "screenshot_path",
            "log_content",
            "screenshot_url",
            "log_url",
            "result_summary",
            "execution_id",
            "task_id",
            "account_id",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_screenshot_url(self, log: ExecutionLog) -> str | None:
        return signed_resource_url(log.screenshot_path)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_log_url(self, log: ExecutionLog) -> str | None:
        return signed_resource_url(log.log_content)
