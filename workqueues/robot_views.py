"""The robots' queue endpoints (API.md §13), authenticated with the webhook secret like §5."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from rpa_workbench.robot_auth import RobotEndpointMixin
from workqueues import items
from workqueues.serializers import QueueItemSerializer, TakeSerializer
from workqueues.validation import ResultSerializer

TakeAnswer = inline_serializer("QueueTakeAnswer", {
    "success": serializers.BooleanField(), "message": serializers.CharField(),
    "item": QueueItemSerializer(allow_null=True),
})
ResultAnswer = inline_serializer("QueueResultAnswer", {
    "success": serializers.BooleanField(), "message": serializers.CharField(), "item": QueueItemSerializer(),
})


class RobotView(RobotEndpointMixin, APIView):
    throttle_classes: list = []


class TakeNextView(RobotView):
    @extend_schema(request=TakeSerializer, responses=TakeAnswer)
    def post(self, request):
        body = TakeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        item = items.take_next(
            queue_name=data["queue"], shadow_bot_account=data["shadow_bot_account"], app_name=data.get("app_name") or None
        )
        if item is None:
            return Response({"success": True, "message": f"no item of {data['queue']} is ready", "item": None})
        return Response({"success": True, "message": f"item {item.pk} is yours", "item": QueueItemSerializer(item).data})


class ResultView(RobotView):
    @extend_schema(request=ResultSerializer, responses=ResultAnswer)
    def post(self, request, item_id):
        body = ResultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item, changed = items.record_result(item_id=item_id, **body.validated_data)
        message = f"item {item.pk} is {item.status}" if changed else f"item {item.pk} was {item.status} already"
        return Response({"success": True, "message": message, "item": QueueItemSerializer(item).data})
