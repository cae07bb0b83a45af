"""The jobs API (API.md §9): thin views over jobs.services."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jobs import queue, services
from jobs.filters import JobFilter
from jobs.models import Job, JobSource
from jobs.serializers import JobCreateSerializer, JobSerializer
from rpa_workbench.errors import ApiError
from rpa_workbench.list_cache import cached_read
from rpa_workbench.permissions import require_perms
from tasks.models import Task

CanControl = require_perms("tasks.view_task", "tasks.control_task")


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Job.objects.select_related("requested_by").order_by("-created_at", "-pk")
    serializer_class = JobSerializer
    filterset_class = JobFilter

    def get_permissions(self):
        if self.action in ("create", "cancel", "stop", "retry"):
            return [CanControl()]
        return [require_perms("tasks.view_task")()]

    @cached_read
    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = JobSerializer(page, many=True, context={**self.get_serializer_context(), "positions": queue.positions(page)})
        return self.get_paginated_response(serializer.data)

    def _answer(self, job: Job, status_code: int = 200) -> Response:
        job.refresh_from_db()
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request):
        body = JobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        task = Task.objects.select_related("account").filter(pk=data["task_id"]).first()
        if task is None:
            raise ApiError(400, "VALIDATION_ERROR", f"task_id: task {data['task_id']} does not exist")
        started = services.start_job(
            task=task, source=JobSource.API, user=request.user, priority=data.get("priority"),
            run_timeout_seconds=data.get("run_timeout_seconds"), wait_timeout_seconds=data.get("wait_timeout_seconds"),
            inputs=data.get("inputs"),
        )
        return self._answer(started.job, 201)

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._answer(services.cancel_job(job=self.get_object(), user=request.user))

    @extend_schema(request=None, responses=JobSerializer, parameters=[OpenApiParameter("force", bool, required=False)])
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        force = request.query_params.get("force", "").lower() in ("true", "1")
        job, _ = services.stop_job(job=self.get_object(), source=JobSource.API, user=request.user, force=force)
        return self._answer(job)

    @extend_schema(request=None, responses={201: JobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._answer(services.retry_job(job=self.get_object(), user=request.user), 201)
