from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from jobs import task_control
from jobs.models import JobStatus
from rpa_workbench.errors import ApiError
from rpa_workbench.history import HistoryMixin
from rpa_workbench.list_cache import CachedListMixin
from rpa_workbench.permissions import require_perms
from rpa_workbench.viewsets import ModelViewSet
from tasks import editing
from tasks.filters import TaskFilter
from tasks.models import ControlSource, Task
from tasks.serializers import ControlRequestSerializer, TaskSerializer

CanControl = require_perms("tasks.view_task", "tasks.control_task")
CanReadControl = require_perms("tasks.view_task", "tasks.view_controlrequest")


class ControlResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    task_id = serializers.CharField()
    status = serializers.CharField(help_text="the task's status (start/stop do not change it)")
    job_id = serializers.CharField(required=False, help_text="the job this request created or acts on")
    job_status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    jobs = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="`scope: all` only: {job_id, account_id, shadow_bot_account, job_status} per robot of the pool",
    )


class StartBodySerializer(serializers.Serializer):
    inputs = serializers.JSONField(
        required=False, allow_null=True,
        help_text="values for the task's parameters, {name: value} (API.md §11); omitted ones take their defaults",
    )
    scope = serializers.ChoiceField(
        choices=["one", "all"], required=False,
        help_text="a pool task (API.md §12): `one` (default) job for any free robot, or `all`: one job per robot of the pool",
    )


def start_scope(request) -> str:
    """The optional `scope` of a start's body (API.md §12): one (default) or all."""
    scope = request.data.get("scope") if isinstance(request.data, dict) else None
    if scope in (None, "", "one", "all"):
        return scope or "one"
    raise ApiError(400, "VALIDATION_ERROR", "scope: must be one or all")


def start_inputs(request):
    """The optional `inputs` of a start's body (API.md §11); checked by jobs.inputs.resolve."""
    return request.data.get("inputs") if isinstance(request.data, dict) else None


class TaskViewSet(CachedListMixin, HistoryMixin, ModelViewSet):
    queryset = Task.objects.select_related("account").prefetch_related("parameters").order_by("-created_at")
    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def delete_instance(self, instance):
        editing.delete_task(task=instance, user=self.request.user)

    def _control(self, control, request, **extra) -> Response:
        task = self.get_object()
        sent = control(task=task, source=ControlSource.API, user=request.user, **extra)
        return Response(task_control.control_response(task, sent))

    @extend_schema(request=StartBodySerializer, responses=ControlResponseSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanControl])
    def start(self, request, pk=None):
        return self._control(task_control.start_task, request, inputs=start_inputs(request), scope=start_scope(request))

    @extend_schema(request=None, responses=ControlResponseSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanControl])
    def stop(self, request, pk=None):
        return self._control(task_control.stop_task, request)

    @extend_schema(
        request=None,
        responses=ControlResponseSerializer,
        parameters=[OpenApiParameter("force", bool, required=True, description="must be true")],
    )
    @action(detail=True, methods=["post"], url_path="force-stop", permission_classes=[CanControl])
    def force_stop(self, request, pk=None):
        if request.query_params.get("force", "").lower() not in ("true", "1"):
            raise ApiError(400, "VALIDATION_ERROR", "force: must be true to confirm a force-stop")
        return self._control(task_control.force_stop_task, request)

    @extend_schema(request=None, responses=ControlRequestSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        url_path="control-requests",
        permission_classes=[CanReadControl],
        filterset_class=None,
    )
    def control_requests(self, request, pk=None):
        task = self.get_object()
        audit = task.control_requests.select_related("requested_by").order_by("-created_at")
        page = self.paginate_queryset(audit)
        return self.get_paginated_response(ControlRequestSerializer(page, many=True).data)
