"""The fake Yingdao's app-parameter endpoints (API.md §11, YINGDAO_OPENAPI.md "More of the API"):
`file/upload` (multipart; answers a `fileKey`, keeps what it got) and `robot/v2/queryRobotParam`
(the parameter lists tests and the demo declare with `set_robot_params`). Mixed into
`yingdao.testing.FakeYingdao`.
"""

from __future__ import annotations

import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart body as `{field: text}` plus `_files: {field: (filename, bytes)}`."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    found: dict[str, Any] = {"_files": {}}
    if not message.is_multipart():
        return found
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            found["_files"][name] = (filename, payload)
        else:
            found[name] = payload.decode("utf-8", "replace")
    return found


class ParamsFake:
    """State and handlers; `FakeYingdao` provides `lock`, `_ok`."""

    def _init_params(self) -> None:
        self.uploads: dict[str, tuple[str, bytes]] = {}  # fileKey -> (filename, content)
        self.robot_params: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def set_robot_params(self, robot_uuid: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]] = ()) -> None:
        """Declare an app's main-flow parameters, as Yingdao lists them for a published app."""
        with self.lock:
            self.robot_params[robot_uuid] = {
                "inputParams": [{"direction": "In", **item} for item in inputs],
                "outputParams": [{"direction": "Out", **item} for item in outputs],
            }

    def _file_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("_files") or {}
        if "file" not in files:
            return {"code": 400, "success": False, "msg": "file 不能为空 (file is required)"}
        filename, content = files["file"]
        if len(content) > MAX_UPLOAD_BYTES:
            return {"code": 400, "success": False, "msg": "file too large"}
        key = "fk-" + uuid.uuid4().hex
        with self.lock:
            self.uploads[key] = (filename, content)
        return self._ok({"fileKey": key})

    def _robot_queryRobotParam(self, body: dict[str, Any]) -> dict[str, Any]:
        robot_uuid = str(body.get("robotUuid") or "")
        with self.lock:
            params = self.robot_params.get(robot_uuid)
        if params is None:
            return {"code": 404, "success": False, "msg": "应用不存在或未发布 (no published app with this robotUuid)"}
        return self._ok(params)
