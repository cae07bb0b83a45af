"""What the webhooks answer (API.md §5), for the OpenAPI document: every answer is a 200 with
`success` and `message`; an id is null when nothing matched."""

from __future__ import annotations

from rest_framework import serializers


class WebhookAnswer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class ConfirmAnswer(WebhookAnswer):
    task_id = serializers.CharField(allow_null=True, help_text="null when no task matched")
    status = serializers.CharField(required=False, help_text="the task's status now")


class ExecutionCompleteAnswer(WebhookAnswer):
    log_id = serializers.CharField()
    duplicate = serializers.BooleanField(help_text="true when this execution was already recorded")
    screenshot_url = serializers.CharField(allow_null=True)
    log_url = serializers.CharField(allow_null=True)


class HeartbeatAnswer(WebhookAnswer):
    account_id = serializers.CharField(allow_null=True, help_text="null when no account matched")
    status = serializers.CharField(required=False, help_text="the account's status now")


class YingdaoJobAnswer(serializers.Serializer):
    job_uuid = serializers.CharField(help_text="Yingdao's jobUuid from the callback")
    job_id = serializers.CharField(allow_null=True, help_text="our job, null when none carries this jobUuid")
    status = serializers.CharField(allow_null=True, help_text="the job's status now")
    outcome = serializers.CharField(help_text="what the callback changed (or why nothing)")


class YingdaoCallbackAnswer(WebhookAnswer):
    jobs = YingdaoJobAnswer(many=True)
