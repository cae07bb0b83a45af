"""Robot webhooks (API.md §5): thin views over `jobs.reports` (robots' confirms,
reports and heartbeats).

They authenticate with the shared webhook secret only (no user), validate the body, call one
domain function and answer `{"success": true, "message": ...}`.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import reports
from jobs.idle import record_idle_heartbeat
from resources.signing import safe_link
from rpa_workbench.errors import ApiError
from rpa_workbench.robot_auth import RobotEndpointMixin, RobotQueryTokenRequired
from webhooks import responses
from webhooks.serializers import (
    ConfirmSerializer,
    ExecutionCompleteSerializer,
    HeartbeatSerializer,
    YingdaoCallbackSerializer,
)


class WebhookView(RobotEndpointMixin, APIView):
    throttle_classes: list = []


class ConfirmView(WebhookView):
    @extend_schema(request=ConfirmSerializer, responses=responses.ConfirmAnswer)
    def post(self, request):
        serializer = ConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        task = reports.confirm(
            shadow_bot_account=data["shadow_bot_account"],
            app_name=data["app_name"],
            action=data["action"],
            host_ip=data.get("host_ip"),
        )
        if task is None:
            return Response(
                {
                    "success": True,
                    "message": f"no task matched account {data['shadow_bot_account']} and app {data['app_name']}; "
                    "nothing changed",
                    "task_id": None,
                }
            )
        return Response(
            {
                "success": True,
                "message": f"{data['action']} confirmed: task {task.app_name} is now {task.status}",
                "task_id": str(task.pk),
                "status": task.status,
            }
        )


class ExecutionCompleteView(WebhookView):
    @extend_schema(request=ExecutionCompleteSerializer, responses=responses.ExecutionCompleteAnswer)
    def post(self, request):
        serializer = ExecutionCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        log, created = reports.record_execution(**serializer.service_kwargs())
        message = (
            "execution recorded" if created else "execution already recorded; returning the original log"
        )
        return Response(
            {
                "success": True,
                "message": message,
                "log_id": str(log.pk),
                "duplicate": not created,
                "screenshot_url": safe_link(log.screenshot_path),
                "log_url": safe_link(log.log_content),
            }
        )


class HeartbeatView(WebhookView):
    @extend_schema(request=HeartbeatSerializer, responses=responses.HeartbeatAnswer)
    def post(self, request):
        # The body, or — for robots that cannot send one — the query string.
        body = request.data if isinstance(request.data, dict) else {}
        source = body if body else request.query_params
        serializer = HeartbeatSerializer(data=source)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["app_name"]:
            account = reports.record_heartbeat(
                shadow_bot_account=data["shadow_bot_account"],
                app_name=data["app_name"],
                host_ip=data.get("host_ip"),
            )
        else:  # the idle heartbeat: "I am here and run nothing" (jobs/idle.py)
            account = record_idle_heartbeat(shadow_bot_account=data["shadow_bot_account"], host_ip=data.get("host_ip"))
        if account is None:
            return Response(
                {
                    "success": True,
                    "message": f"no robot account named {data['shadow_bot_account']}; heartbeat ignored",
                    "account_id": None,
                }
            )
        return Response(
            {
                "success": True,
                "message": f"{'heartbeat' if data['app_name'] else 'idle heartbeat'} recorded for {account.task_control}",
                "account_id": str(account.pk),
                "status": account.status,
            }
        )


class YingdaoCallbackView(WebhookView):
    """Yingdao's own callback (API.md §5, §9.3): the secret travels as `?token=` in the
    callbackUrl we gave job/start. Applied by `yingdao.updates.receive`."""

    permission_classes = [RobotQueryTokenRequired]

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT}, responses=responses.YingdaoCallbackAnswer)
    def post(self, request):
        from yingdao.callbacks import CallbackError
        from yingdao.updates import receive

        serializer = YingdaoCallbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            results = receive(serializer.validated_data["body"])
        except CallbackError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc)) from None
        matched = [result for result in results if result.job_id]
        if not matched:
            message = "no job matched " + (", ".join(r.job_uuid for r in results) or "this callback") + "; nothing changed"
        else:
            message = "; ".join(f"job {r.job_id}: {r.outcome}" for r in matched)
        return Response(
            {
                "success": True,
                "message": message,
                "jobs": [
                    {"job_uuid": r.job_uuid, "job_id": r.job_id, "status": r.status, "outcome": r.outcome}
                    for r in results
                ],
            }
        )
