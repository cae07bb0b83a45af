"""What every channel module shares: the result of one send, and one bounded HTTP POST."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings

from alerts.targets import is_http_url

USER_AGENT = "RPA-Workbench-Alerts/1"
MAX_ERROR = 300


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None = None
    error: str = ""


class SendError(Exception):
    """A send that did not go through; `reason` never contains the channel's secret or target."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_ERROR]
        self.status = status


def encode_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def hmac_sha256(key: str, message: str | bytes) -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key.encode(), data, hashlib.sha256).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to (or replacing those of) its query string."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    """POST JSON within RPA_ALERT_CONNECT_TIMEOUT / RPA_ALERT_TIMEOUT, no redirects followed.

    Errors name what went wrong, never the URL (it may hold a robot's key)."""
    if not is_http_url(url):
        raise SendError("refused: the target is not an http(s) URL")
    timeout = (settings.RPA_ALERT_CONNECT_TIMEOUT, settings.RPA_ALERT_TIMEOUT)
    try:
        return requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise SendError(f"timed out (connect {timeout[0]:g}s, read {timeout[1]:g}s)") from None
    except requests.ConnectionError:
        raise SendError("could not connect") from None
    except requests.RequestException as exc:
        raise SendError(f"request failed ({type(exc).__name__})") from None


def require_2xx(response: requests.Response) -> SendResult:
    if 200 <= response.status_code < 300:
        return SendResult(True, response.status_code)
    raise SendError(f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)


def robot_result(response: requests.Response, *code_keys: str) -> SendResult:
    """Chat robots answer HTTP 200 with an error code in the JSON body: 0 means delivered."""
    require_2xx(response)
    try:
        answer = response.json()
    except ValueError:
        raise SendError(f"unexpected answer (not JSON): {response.text[:200]}", response.status_code) from None
    if not isinstance(answer, dict):
        raise SendError("unexpected answer (not a JSON object)", response.status_code)
    for key in code_keys:
        code = answer.get(key)
        if code not in (None, 0, "0"):
            text = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
            raise SendError(f"{key} {code}: {str(text)[:200]}", response.status_code)
    return SendResult(True, response.status_code)
