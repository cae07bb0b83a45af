"""API.md §7 — stored files, the cloud proxy, intranet control and task config files."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from resources import proxy, services
from resources.access import AlwaysFirstRenderer, SignedOrPermitted
from resources.files import InvalidPath, clean_path, find_stored
from resources.responses import file_response, proxy_response
from resources.serializers import (
    ConfigUploadResponseSerializer,
    ConfigUploadSerializer,
    IntranetQuerySerializer,
    IntranetResponseSerializer,
    ProxyQuerySerializer,
    RobotTaskSerializer,
    TaskConfigResponseSerializer,
)
from resources.signing import Kind, url_filename
from rpa_workbench.errors import ApiError
from rpa_workbench.parsers import JSONParser as SafeJSONParser
from rpa_workbench.permissions import require_perms
from rpa_workbench.robot_auth import RobotEndpointMixin
from rpa_workbench.same_origin import SessionNeedsSameOrigin

# A file in its own content type (a JSON config is JSON): any body.
BINARY = {(200, "*/*"): OpenApiTypes.ANY}
CONDITIONAL_HEADERS = ("If-None-Match", "If-Modified-Since")
NOT_MODIFIED = {304: OpenApiResponse(description="Not modified (If-None-Match / If-Modified-Since)")}
CONDITIONAL_PARAMETERS = [
    OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False) for name in CONDITIONAL_HEADERS
]


class StoredFileView(APIView):
    """A file this server stored; ETag/Last-Modified, ranges; never anything outside the root."""

    permission_classes = [SignedOrPermitted]
    content_negotiation_class = AlwaysFirstRenderer
    signed_kind = Kind.FILE

    def initial(self, request, *args, **kwargs):
        try:
            self.clean_name = clean_path(kwargs.get("path", ""))
        except InvalidPath as exc:
            raise ApiError(400, "VALIDATION_ERROR", f"path: {exc}") from None
        super().initial(request, *args, **kwargs)

    def signed_value(self, request) -> str:
        return self.clean_name

    @extend_schema(
        operation_id="resources_file",
        responses={**BINARY, (206, "*/*"): OpenApiTypes.ANY, **NOT_MODIFIED},
        parameters=[
            OpenApiParameter("sig", str, required=False, description="signature of a signed URL"),
            OpenApiParameter("Range", str, OpenApiParameter.HEADER, required=False, description="bytes=<from>-<to>"),
            *CONDITIONAL_PARAMETERS,
        ],
    )
    def get(self, request, path: str):
        try:
            stored = find_stored(self.clean_name)
        except InvalidPath as exc:
            raise ApiError(400, "VALIDATION_ERROR", f"path: {exc}") from None
        if stored is None:
            raise ApiError(404, "NOT_FOUND", f"no stored file at {self.clean_name}")
        return file_response(request, stored)


class ProxyView(APIView):
    """An allow-listed cloud object, streamed, cacheable, shown inline."""

    permission_classes = [SignedOrPermitted]
    content_negotiation_class = AlwaysFirstRenderer
    signed_kind = Kind.PROXY
    download = False

    def signed_value(self, request) -> str:
        return request.query_params.get("url", "")

    @extend_schema(parameters=[ProxyQuerySerializer], responses={**BINARY, **NOT_MODIFIED})
    def get(self, request):
        query = ProxyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        url = query.validated_data["url"]
        if self.download:
            filename = query.validated_data.get("filename") or url_filename(url)
            return proxy_response(request, proxy.fetch(url), download_filename=filename)
        forward = {name: request.headers[name] for name in CONDITIONAL_HEADERS if request.headers.get(name)}
        return proxy_response(request, proxy.fetch(url, forward_headers=forward))


class ProxyDownloadView(ProxyView):
    """The same object as an attachment named `filename` (UTF-8 names allowed), never cached."""

    download = True


class IntranetControlView(APIView):
    """The SPA's start/stop: a raw relay request, audited like every control request.

    A GET that starts robots: with a session cookie it must also come from our own origin."""

    permission_classes = [require_perms("tasks.control_task"), SessionNeedsSameOrigin]

    @extend_schema(parameters=[IntranetQuerySerializer], responses=IntranetResponseSerializer)
    def get(self, request):
        query = IntranetQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        sent = services.send_intranet_control(
            backend_ip=data["backend_ip"].strip(),
            backend_port=data["backend_port"],
            app_name=data["tak"].strip(),
            target=data["target"].strip().upper(),
            user=request.user,
        )
        return Response(services.intranet_body(sent, target=data["target"].upper()))

    def handle_exception(self, exc):
        """The SPA reads `success`/`message` whatever the status: every error body has them."""
        response = super().handle_exception(exc)
        if isinstance(response.data, dict):
            response.data.setdefault("success", False)
            response.data.setdefault("url", "")
        return response


class ConfigUploadView(APIView):
    """Store a task's config file (operator permission)."""

    permission_classes = [require_perms("tasks.change_task")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=ConfigUploadSerializer, responses=ConfigUploadResponseSerializer)
    def post(self, request):
        services.refuse_oversized_request(request)
        body = ConfigUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        stored = services.store_task_config(
            shadow_bot_account=data["shadow_bot_account"],
            app_name=data["app_name"],
            host_ip=data.get("host_ip"),
            upload=data["file"],
        )
        return Response(
            {
                "success": True,
                "file_url": stored.file_url,
                "config_file_path": stored.path,
                "message": f"config file stored for {stored.task.app_name}",
            }
        )


class TaskConfigView(RobotEndpointMixin, APIView):
    """A robot asks for its task's config (webhook secret)."""

    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]

    @extend_schema(request=RobotTaskSerializer, responses=TaskConfigResponseSerializer)
    def post(self, request):
        body = RobotTaskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        config = services.task_config(
            shadow_bot_account=data["shadow_bot_account"], app_name=data["app_name"], host_ip=data.get("host_ip"),
            absolute=request.build_absolute_uri,
        )
        if config["config_file_url"] and config["config_file_url"].startswith("/"):
            config["config_file_url"] = request.build_absolute_uri(config["config_file_url"])
        return Response(config)
