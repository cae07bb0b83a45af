"""A job's inputs as Yingdao's `params` (API.md §11), and an app's parameter list from Yingdao.

- `params_for(job, api)`: the job's inputs, read from its row when its START is sent (so
  whichever process or dispatcher sends it, it sends what the job stored), as
  `[{name, value, type}]`; a `file` input is uploaded with `file/upload` first and passed as the
  answered `fileKey` (a stored file read from our storage; a URL fetched through the resource
  proxy's allow-list and bounds). None when the job has no inputs (the backend then keeps its
  `config_json` params).
- `app_parameters(robot_uuid)`: `robot/v2/queryRobotParam` → our parameter definitions (the
  admin's "Load parameters from Yingdao").
Both call the network: never inside a transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import default_storage

from jobs.models import Job
from tasks.models import ParameterType
from yingdao.client import Client, YingdaoError

logger = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 50 * 1024 * 1024


def _stored_file(value: str) -> tuple[str, bytes]:
    from resources.files import clean_path
    from resources.signing import API_PREFIX

    path = clean_path(value.removeprefix(API_PREFIX).removeprefix(API_PREFIX.lstrip("/")))
    with default_storage.open(path, "rb") as handle:
        content = handle.read(UPLOAD_MAX_BYTES + 1)
    if len(content) > UPLOAD_MAX_BYTES:
        raise ValueError(f"larger than {UPLOAD_MAX_BYTES} bytes")
    return path.rsplit("/", 1)[-1], content


def _remote_file(url: str) -> tuple[str, bytes]:
    from resources import proxy
    from resources.signing import url_filename

    upstream = proxy.fetch(url)
    if not 200 <= upstream.status < 300:
        upstream.close()
        raise ValueError(f"HTTP {upstream.status}")
    return url_filename(url) or "file", b"".join(upstream.chunks())


def file_content(value: str) -> tuple[str, bytes]:
    """(filename, bytes) of a `file` input: a stored file's path or an http(s) URL."""
    from rpa_workbench.errors import ApiError

    try:
        if value.lower().startswith(("http://", "https://")):
            return _remote_file(value)
        return _stored_file(value)
    except (OSError, ValueError, ApiError) as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise YingdaoError(f"file input {value[:200]!r} could not be read: {message}", endpoint="file/upload") from None


def params_for(job, api: Client) -> list[dict[str, Any]] | None:
    inputs = Job.objects.filter(pk=job.pk).values_list("inputs", flat=True).first()
    if not inputs:
        return None
    params = []
    for item in inputs:
        value = item["value"]
        if item["type"] == ParameterType.FILE:
            try:
                filename, content = file_content(value)
            except YingdaoError:
                if not item.get("secret"):
                    raise
                raise YingdaoError(f"file input {item['name']} (secret) could not be read", endpoint="file/upload") from None
            answer = api.upload_file(filename, content)
            value = str((answer.data or {}).get("fileKey") or "") if isinstance(answer.data, dict) else ""
            if not value:
                raise YingdaoError("file/upload answered no fileKey", endpoint="file/upload", url=answer.url)
        params.append({"name": item["name"], "value": value, "type": item["type"]})
    return params


YINGDAO_TYPES = {"str": "str", "string": "str", "int": "int", "integer": "int", "float": "float", "number": "float",
                 "bool": "bool", "boolean": "bool", "file": "file"}  # fmt: skip


def app_parameters(robot_uuid: str, api: Client | None = None) -> list[dict[str, Any]]:
    """The app's input parameters as definitions (`tasks.parameters.definitions` checks them):
    Yingdao's value becomes the default; an unknown type is read as `str`."""
    from yingdao import client as yingdao_client

    answer = (api or yingdao_client.client()).query_robot_params(robot_uuid)
    data = answer.data if isinstance(answer.data, dict) else {}
    found = []
    for item in data.get("inputParams") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        kind = YINGDAO_TYPES.get(str(item.get("type") or "str").lower(), "str")
        default = item.get("value")
        found.append({
            "name": str(item["name"])[:100], "type": kind, "required": False,
            "default": None if default in (None, "") or kind == "file" else default,
            "description": str(item.get("description") or "")[:500], "secret": False,
        })  # fmt: skip
    return found
