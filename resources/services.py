"""Resource workflows: task config files (upload, robot lookup) and raw relay control.

Called by the API views and usable from the admin or commands alike. Files are written through
`default_storage` before the task row changes; the row changes in one transaction, and the file
is removed again if that transaction fails, so a task never points at a missing file and no
half-written record is left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from resources import signing
from resources.files import extension_of, safe_segment
from rpa_workbench import events
from rpa_workbench.errors import ApiError
from tasks.models import ControlRequest, ControlSource, Task

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_EXTENSIONS = (
    "xlsx", "xls", "xlsm", "csv", "tsv", "json", "txt", "yaml", "yml",
    "ini", "cfg", "conf", "toml", "xml", "properties",
)  # fmt: skip
CONFIG_DIR = "configs"


def allowed_extensions() -> tuple[str, ...]:
    configured = getattr(settings, "RPA_UPLOAD_ALLOWED_EXTENSIONS", None)
    return tuple(e.lower().lstrip(".") for e in configured) if configured else DEFAULT_CONFIG_EXTENSIONS


def _task_not_found(shadow_bot_account: str, app_name: str) -> ApiError:
    return ApiError(404, "TASK_NOT_FOUND", f"no task for app {app_name} on account {shadow_bot_account}")


def find_task(*, shadow_bot_account: str, app_name: str, host_ip: str | None = None) -> Task:
    task = Task.objects.match_robot(shadow_bot_account, app_name, host_ip or None)
    if task is None:
        raise _task_not_found(shadow_bot_account, app_name)
    return task


# Room for the multipart boundaries and the other form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def refuse_oversized_request(request) -> None:
    """Refuse an obviously too large upload from its Content-Length, before reading the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.RPA_UPLOAD_MAX_BYTES
    if length > limit + MULTIPART_OVERHEAD:
        raise ApiError(
            400, "VALIDATION_ERROR", f"file: the upload is larger than the {limit} bytes allowed",
            details={"file": [f"larger than {limit} bytes"]},
        )


def validate_config_file(upload: UploadedFile) -> None:
    limit = settings.RPA_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ApiError(
            400, "VALIDATION_ERROR", f"file: {upload.size} bytes is larger than the {limit} bytes allowed",
            details={"file": [f"larger than {limit} bytes"]},
        )
    if not upload.size:
        raise ApiError(400, "VALIDATION_ERROR", "file: the file is empty", details={"file": ["empty file"]})
    extension = extension_of(upload.name or "")
    allowed = allowed_extensions()
    if extension not in allowed:
        raise ApiError(
            400, "VALIDATION_ERROR",
            f"file: .{extension or '?'} files are not accepted; allowed: {', '.join(allowed)}",
            details={"file": ["extension not allowed"]},
        )


def config_storage_name(task: Task, original_name: str) -> str:
    """`configs/<account>/<app>/<timestamp>_<name>` with every segment made harmless."""
    stamp = timezone.localtime().strftime("%Y%m%d_%H%M%S_%f")
    account = safe_segment(task.account.shadow_bot_account, fallback="account")
    app = safe_segment(task.app_name, fallback="app")
    return f"{CONFIG_DIR}/{account}/{app}/{stamp}_{safe_segment(original_name, fallback='config')}"


@dataclass(frozen=True)
class StoredConfig:
    task: Task
    path: str

    @property
    def file_url(self) -> str:
        return signing.signed_file_url(self.path)


def store_task_config(*, shadow_bot_account: str, app_name: str, upload: UploadedFile, host_ip: str | None = None) -> StoredConfig:
    """Store an uploaded config file for the task a robot names (the API's upload)."""
    task = find_task(shadow_bot_account=shadow_bot_account, app_name=app_name, host_ip=host_ip)
    try:
        return store_config_for_task(task=task, upload=upload)
    except Task.DoesNotExist:
        raise _task_not_found(shadow_bot_account, app_name) from None


def store_config_for_task(*, task: Task, upload: UploadedFile) -> StoredConfig:
    """Store an uploaded config file for `task` and point the task at it (`config_file` = true);
    the API's upload and the task's admin form both end here.

    Earlier config files are kept (a robot may be downloading one right now). Raises
    Task.DoesNotExist when the task was deleted meanwhile (the file is removed again).
    """
    validate_config_file(upload)
    stored_name = default_storage.save(config_storage_name(task, upload.name or "config"), upload)
    try:
        with transaction.atomic():
            locked = Task.objects.select_for_update().select_related("account").get(pk=task.pk)
            before = events.snapshot(locked, ("config_file", "config_file_path"))
            locked.config_file = True
            locked.config_file_path = stored_name
            locked.save(update_fields=["config_file", "config_file_path", "updated_at"])
            events.publish_task_updated(locked, events.changed(before, locked))
    except Exception:
        default_storage.delete(stored_name)
        raise
    logger.info("stored config %s for task %s", stored_name, task.pk)
    return StoredConfig(locked, stored_name)


def config_file_url(task: Task) -> str | None:
    """A signed URL for the task's config file, when it has one the robot can fetch."""
    if not task.config_file or not task.config_file_path:
        return None
    path = task.config_file_path
    if signing.is_cloud_url(path):
        return path
    return signing.signed_resource_url(path)


def task_config(
    *, shadow_bot_account: str, app_name: str, host_ip: str | None = None, absolute=lambda url: url
) -> dict[str, Any]:
    """The task's config, and (API.md §11) the id and inputs — secrets in clear, for the robot
    only — of its current dispatched or running job (null when it has none)."""
    from jobs import inputs as job_inputs
    from jobs import pool_runs

    # the robot's own task, or the pool task it runs the app for (API.md §12), and its job there
    task, robot = pool_runs.match_reporter(shadow_bot_account, app_name, host_ip)
    if task is None:
        raise _task_not_found(shadow_bot_account, app_name)
    job = job_inputs.current_for_robot(task, robot_id=pool_runs.robot_scope(task, robot.pk if robot else None))
    stored = job.inputs if job is not None else None
    return {
        "config_file": task.config_file,
        "config_file_url": config_file_url(task),
        "config_info": task.config_info,
        "config_json": task.config_json,
        "job_id": str(job.pk) if job is not None else None,
        "inputs": inputs_for_robot(stored, absolute) if job is not None else None,
        "secret_inputs": [item["name"] for item in stored or () if item.get("secret")],
    }


def inputs_for_robot(inputs: list[dict[str, Any]] | None, absolute=lambda url: url) -> dict[str, Any] | None:
    """A job's inputs `{name: value}` in clear for its relay robot (config/get): a stored file as
    a signed URL it can download without credentials (`absolute` makes it a full URL)."""
    if inputs is None:
        return None
    found = {}
    for item in inputs:
        value = item["value"]
        if item["type"] == "file" and not signing.is_cloud_url(value):
            value = absolute(signing.signed_resource_url(value) or value)
        found[item["name"]] = value
    return found


def send_intranet_control(*, backend_ip: str, backend_port: str, app_name: str, target: str, user) -> ControlRequest:
    """The SPA's start/stop path: a raw relay request through jobs' audited client (jobs.task_control)."""
    from jobs.task_control import send_raw_control

    return send_raw_control(
        backend_ip=backend_ip,
        backend_port=backend_port,
        app_name=app_name,
        target=target,
        source=ControlSource.INTRANET,
        user=user,
    )


def intranet_body(sent, *, target: str) -> dict[str, Any]:
    """The intranet endpoint's answer: the request sent, or the job a START/stop became."""
    from jobs.models import Job

    if isinstance(sent, Job | list):  # a job, or a pool task's stop: one entry per job (API.md §12)
        from jobs.task_control import control_response

        first = sent[0] if isinstance(sent, list) else sent
        body = control_response(first.task, sent) if first.task_id else {"success": True, "message": first.status}
        return {**body, "url": "", "response_status": None}
    body = {
        "success": True,
        "message": f"{target} request sent to the relay",
        "url": sent.relay_url,
        "response_status": sent.response_status,
    }
    if sent.job_id:
        body.update(job_id=str(sent.job_id), job_status=sent.job.status)
    return body
