"""What every channel module shares: the result of one send, and one bounded HTTP POST through
the server's outbound guard (no internal address unless allow-listed; no upstream text kept)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import certifi
import urllib3
import urllib3.exceptions
from django.conf import settings
from requests.utils import get_environ_proxies
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from alerts.targets import internal_allowed
from rpa_workbench import outbound
from rpa_workbench.outbound import Target

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


# Read at most this much of an answer: enough for a chat robot's `{"errcode": …}`.
MAX_ANSWER_BYTES = 64 * 1024
# Redirects that keep the POST and its body (307/308) are followed, each hop checked again;
# 301/302/303 would turn it into a GET that delivers nothing, so they count as answers.
FOLLOWED_REDIRECTS = frozenset({307, 308})
MAX_REDIRECTS = 3
# A chat robot's error codes → a short reason of ours (the robot's own text is never kept).
ROBOT_ERRORS = {
    300001: "the access token is not valid",
    310000: "the robot's security settings refused it (signature, keyword or IP)",
    410100: "rate limited",
    93000: "the webhook key is not valid",
    45009: "rate limited",
    19021: "signature mismatch",
    19022: "the robot's IP allow-list refused us",
    19024: "a required keyword is missing",
    9499: "the robot refused the request",
}


@dataclass(frozen=True)
class Answer:
    """What a channel answered: its status and the start of its body (read by the senders to
    find a chat robot's error code, never stored or shown)."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


def checked_target(url: str, *, redirected: bool = False, via_proxy: bool = False) -> Target:
    """The hop to connect to, through the server's outbound guard (rpa_workbench.outbound):
    a host resolving to an internal address is refused unless RPA_ALERT_ALLOWED_INTERNAL_HOSTS
    names it. Reasons name the host and address, never the URL (its query may be a key).
    Through an egress proxy a name we cannot resolve is the proxy's to resolve (address "")."""
    prefix = "refused: a redirect" if redirected else "refused"
    try:
        parts = outbound.split_url(url, scheme_error="the target is not an http(s) URL")
    except outbound.BadUrl as exc:
        raise SendError(f"{prefix}: {exc}") from None
    try:
        addresses = outbound.checked_addresses(parts.host, parts.port, internal_allowed=internal_allowed(parts.host))
    except outbound.Unresolvable:
        if via_proxy:
            return Target.of(parts, "")
        raise SendError(f"could not resolve host {parts.host}") from None
    except outbound.AddressRefused as exc:
        raise SendError(f"{prefix}: {exc.host} is {exc.reason} ({exc.address}), not allowed for alerts") from None
    return Target.of(parts, addresses[0])


def egress_proxy(url: str) -> str | None:
    """The HTTP_PROXY / HTTPS_PROXY that applies to `url` (NO_PROXY honoured), as with requests."""
    proxies = get_environ_proxies(url)
    return proxies.get(urlsplit(url).scheme.lower()) or proxies.get("all") or None


def _open(target: Target, proxy: str | None, body: bytes, headers: dict[str, str], timeout: urllib3.Timeout):
    """(the response, a closer): straight to the checked address, or through the egress proxy."""
    common = {"body": body, "redirect": False, "retries": False, "preload_content": False}
    if proxy:
        manager = urllib3.ProxyManager(
            proxy, num_pools=1, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where()
        )
        url = f"{target.scheme}://{target.host_header}{target.request_target}"
        try:
            return manager.urlopen("POST", url, headers=headers, **common), manager.clear
        except BaseException:
            manager.clear()
            raise
    pool = outbound.connection_pool(target, timeout, certifi.where())
    try:
        response = pool.urlopen(
            "POST", target.request_target, headers={"Host": target.host_header, **headers}, assert_same_host=False, **common
        )
        return response, pool.close
    except BaseException:
        pool.close()
        raise


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
    """POST JSON to the checked address within RPA_ALERT_CONNECT_TIMEOUT / RPA_ALERT_TIMEOUT
    (the whole answer, too); 307/308 redirects are followed, each hop checked the same way.

    Errors name what went wrong, never the URL (it may hold a robot's key)."""
    connect, read = settings.RPA_ALERT_CONNECT_TIMEOUT, settings.RPA_ALERT_TIMEOUT
    timeout = urllib3.Timeout(connect=connect, read=read)
    deadline = time.monotonic() + connect + read
    sent = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})}
    for hop in range(MAX_REDIRECTS + 1):
        proxy = egress_proxy(url)
        target = checked_target(url, redirected=hop > 0, via_proxy=proxy is not None)
        close = None
        try:
            response, close = _open(target, proxy, body, sent, timeout)
            content = _read_bounded(response, deadline)
        except NewConnectionError:  # a subclass of ConnectTimeoutError in urllib3
            raise SendError("could not connect") from None
        except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
            raise SendError(f"timed out (connect {connect:g}s, read {read:g}s)") from None
        except SSLError:
            raise SendError("TLS failed (certificate or protocol)") from None
        except (ProtocolError, OSError, urllib3.exceptions.ProxyError):
            raise SendError("could not connect") from None
        except HTTPError as exc:
            raise SendError(f"request failed ({type(exc).__name__})") from None
        finally:
            if close is not None:
                close()
        location = response.headers.get("location")
        if response.status in FOLLOWED_REDIRECTS and location:
            url = urljoin(target.url, location)
            continue
        return Answer(response.status, content)
    raise SendError(f"refused: more than {MAX_REDIRECTS} redirects", None)


def _read_bounded(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """At most MAX_ANSWER_BYTES of the body, within the deadline (a slow drip is a timeout)."""
    content = b""
    try:
        for chunk in response.stream(8192, decode_content=True):
            content += chunk
            if len(content) >= MAX_ANSWER_BYTES:
                break
            if time.monotonic() > deadline:
                raise TimeoutError
    finally:
        response.release_conn()
        response.close()
    return content[:MAX_ANSWER_BYTES]


def require_2xx(response: Answer) -> SendResult:
    if 200 <= response.status_code < 300:
        return SendResult(True, response.status_code)
    raise SendError(f"HTTP {response.status_code}", response.status_code)


def robot_result(response: Answer, *code_keys: str) -> SendResult:
    """Chat robots answer HTTP 200 with an error code in the JSON body: 0 means delivered.
    Only the code is kept, with a reason of ours: the robot's text is never stored."""
    require_2xx(response)
    try:
        answer = response.json()
    except ValueError:
        raise SendError("unexpected answer (not JSON)", response.status_code) from None
    if not isinstance(answer, dict):
        raise SendError("unexpected answer (not a JSON object)", response.status_code)
    for key in code_keys:
        code = answer.get(key)
        if code in (None, 0, "0"):
            continue
        try:
            number = int(code)
        except (TypeError, ValueError):
            raise SendError(f"unexpected answer ({key} is not a number)", response.status_code) from None
        reason = ROBOT_ERRORS.get(number, "the robot refused the message")
        raise SendError(f"{key} {number}: {reason}", response.status_code)
    return SendResult(True, response.status_code)
