"""The Yingdao Open API client (YINGDAO_OPENAPI.md): token, pacing, one error type.

- The access token is fetched with the access key, cached until `RPA_YINGDAO_TOKEN_MARGIN_SECONDS`
  before it expires, shared by every thread of the process (one fetch at a time, the others wait
  for it), and renewed once when a call answers as unauthorized.
- Every call waits for its slot in the process-wide `limiter`; a call Yingdao refuses for its
  rate limit backs off and is tried again, for at most `RPA_YINGDAO_RATE_LIMIT_WAIT` seconds.
- A `code` other than 200 (or `success: false`) is a `YingdaoError` whose message is Yingdao's
  `msg`; so are timeouts and unreachable hosts. Timeouts are bounded: `RPA_YINGDAO_CONNECT_TIMEOUT`
  to connect, `RPA_YINGDAO_TIMEOUT` for the whole call.
- The key secret and tokens never reach a log line or an error message: urllib3's own log
  lines (which quote the token URL) are scrubbed by a filter, and so is every error text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from django.conf import settings

from yingdao import limiter as limiter_module

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oapi/token/v2/token/create"
DISPATCH_PATH = "/oapi/dispatch/v2/"
ROBOT_PARAM_PATH = "/oapi/robot/v2/queryRobotParam"
OK_CODE = 200
UNAUTHORIZED_CODES = {401, 403}
RATE_LIMITED_CODES = {429}
# First backoff after a rate-limit refusal; doubled on each refusal in a row.
FIRST_BACKOFF = 0.2
MAX_BACKOFF = 2.0
ERROR_TEXT_CHARS = 300
REQUIRED_SETTINGS = ("RPA_YINGDAO_ACCESS_KEY_ID", "RPA_YINGDAO_ACCESS_KEY_SECRET")


class YingdaoError(Exception):
    """A call that failed, and why. `message` is safe to show and store (no secrets)."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        code: int | None = None,
        http_status: int | None = None,
        latency_ms: int | None = None,
        may_have_reached: bool = False,
        url: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.code = code
        self.http_status = http_status
        self.latency_ms = latency_ms
        # True when Yingdao may have acted on it (a timeout after sending); False when certainly not.
        self.may_have_reached = may_have_reached
        self.url = url


class NotConfigured(YingdaoError):
    """No access key: nothing was sent."""


@dataclass(frozen=True)
class Answer:
    data: Any
    http_status: int
    latency_ms: int
    url: str
    page: dict | None = None


def is_configured() -> bool:
    return all(getattr(settings, name) for name in REQUIRED_SETTINGS)


def missing_settings() -> list[str]:
    return [name for name in REQUIRED_SETTINGS if not getattr(settings, name)]


# -- secrets out of logs ------------------------------------------------------------------------
MIN_SCRUBBED_CHARS = 4
_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def _remember_secret(value: str) -> None:
    if value and len(value) >= MIN_SCRUBBED_CHARS:
        with _secrets_lock:
            _known_secrets.add(value)


def scrub(text: str) -> str:
    """`text` with the key secret and every token this process has seen masked, in any encoding."""
    with _secrets_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    # The key secret, and the webhook secret our callbackUrl carries (Yingdao may echo it).
    for name in ("RPA_YINGDAO_ACCESS_KEY_SECRET", "RPA_WEBHOOK_TOKEN"):
        configured = getattr(settings, name, "")
        if configured and len(configured) >= MIN_SCRUBBED_CHARS:
            secrets.insert(0, configured)
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


class _ScrubSecrets(logging.Filter):
    """urllib3 logs request lines (the token URL carries the key secret in its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            clean = scrub(message)
        except Exception:  # never let redaction break logging
            return True
        if clean != message:
            record.msg, record.args = clean, None
        return True


_filter = _ScrubSecrets()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_filter)


# -- the token ------------------------------------------------------------------------------------
class TokenCache:
    """One access token per process, shared by its threads; fetched by one thread at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at = 0.0
        self._owner: tuple = ()

    def get(self, owner: tuple, *, now: float, fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            if self._token and self._owner == owner and now < self._expires_at:
                return self._token
            token, lifetime = fetch()
            _remember_secret(token)
            margin = min(settings.RPA_YINGDAO_TOKEN_MARGIN_SECONDS, lifetime / 2)
            self._token, self._owner = token, owner
            self._expires_at = now + lifetime - margin
            return token

    def invalidate(self, token: str) -> None:
        """Forget `token` (refused by Yingdao) unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token, self._expires_at = "", 0.0


_token_cache = TokenCache()
_local = threading.local()


def _session() -> requests.Session:
    """One connection pool per thread: requests sessions are not documented thread-safe."""
    current = getattr(_local, "session", None)
    if current is None:
        current = _local.session = requests.Session()
        current.trust_env = False  # never send the access key through a proxy from the environment
    return current


def timeouts() -> tuple[float, float]:
    total = settings.RPA_YINGDAO_TIMEOUT
    connect = min(settings.RPA_YINGDAO_CONNECT_TIMEOUT, total)
    return connect, max(total - connect, 0.1)


class Client:
    """Calls of the Open API. `clock` (wall seconds) decides token expiry; tests replace it."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        limiter: limiter_module.Limiter | None = None,
        tokens: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = (base_url or settings.RPA_YINGDAO_API_URL).rstrip("/")
        self.limiter = limiter or limiter_module.shared()
        self.tokens = tokens or _token_cache
        self.clock = clock
        self.sleep = sleep

    # -- public calls ----------------------------------------------------------------------
    def start_job(self, body: dict[str, Any]) -> Answer:
        return self.call("job/start", body)

    def query_job(self, job_uuid: str) -> Answer:
        return self.call("job/query", {"jobUuid": job_uuid})

    def stop_job(self, job_uuid: str) -> Answer:
        return self.call("job/stop", {"jobUuid": job_uuid})

    def list_clients(self, *, page: int = 1, size: int = 50) -> Answer:
        return self.call("client/list", {"page": page, "size": size})

    def upload_file(self, filename: str, content: bytes) -> Answer:
        """`file/upload` (multipart): `data.fileKey` names the file in a `file` parameter."""
        return self.request("file/upload", "POST", DISPATCH_PATH + "file/upload", files={"file": (filename, content)})

    def query_robot_params(self, robot_uuid: str) -> Answer:
        """`robot/v2/queryRobotParam`: the app's `inputParams` / `outputParams`."""
        return self.request("robot/queryRobotParam", "GET", ROBOT_PARAM_PATH, params={"robotUuid": robot_uuid})

    # -- machinery -------------------------------------------------------------------------
    def call(self, endpoint: str, body: dict[str, Any]) -> Answer:
        """POST `body` to `/oapi/dispatch/v2/<endpoint>`; the answer's `data` on code 200."""
        return self.request(endpoint, "POST", DISPATCH_PATH + endpoint, json=body)

    def request(self, endpoint: str, method: str, path: str, **kwargs: Any) -> Answer:
        """One authorised, paced call of `path` (renewing a refused token once)."""
        if not is_configured():
            raise NotConfigured(
                "Yingdao Open API not configured: set " + ", ".join(missing_settings()), endpoint=endpoint
            )
        renewed = False
        while True:
            token = self._token()
            try:
                return self._paced(endpoint, lambda token=token: self._authorised(endpoint, method, path, token, kwargs))
            except _Unauthorized as refused:
                self.tokens.invalidate(token)
                if renewed:
                    raise refused.error from None
                renewed = True
                logger.info("yingdao %s: token refused (%s); renewing it once", endpoint, refused.error.message)

    def _owner(self) -> tuple:
        return (self.base_url, settings.RPA_YINGDAO_ACCESS_KEY_ID, settings.RPA_YINGDAO_ACCESS_KEY_SECRET)

    def _token(self) -> str:
        return self.tokens.get(self._owner(), now=self.clock(), fetch=self._fetch_token)

    def _fetch_token(self) -> tuple[str, float]:
        params = {
            "accessKeyId": settings.RPA_YINGDAO_ACCESS_KEY_ID,
            "accessKeySecret": settings.RPA_YINGDAO_ACCESS_KEY_SECRET,
        }
        try:
            answer = self._paced("token", lambda: self._send("token", "GET", TOKEN_PATH, params=params))
        except _Unauthorized as refused:  # a wrong or disabled access key
            raise refused.error from None
        data = answer.data if isinstance(answer.data, dict) else {}
        token = str(data.get("accessToken") or "")
        if not token:
            raise YingdaoError("Yingdao token answer has no accessToken", endpoint="token", url=answer.url)
        try:
            lifetime = float(data.get("expiresIn") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        logger.info("yingdao: new access token, valid %ss", int(lifetime))
        return token, lifetime

    def _paced(self, endpoint: str, send: Callable[[], Answer]) -> Answer:
        waited, backoff = 0.0, FIRST_BACKOFF
        while True:
            try:
                with self.limiter.slot(endpoint):
                    return send()
            except _RateLimited as refused:
                if waited + backoff > settings.RPA_YINGDAO_RATE_LIMIT_WAIT:
                    raise refused.error from None
                logger.info("yingdao %s: rate limited, retrying in %.1fs", endpoint, backoff)
                self.limiter.hold_off(endpoint, backoff)
                waited += backoff
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _authorised(self, endpoint: str, method: str, path: str, token: str, kwargs: dict[str, Any]) -> Answer:
        return self._send(endpoint, method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    def _send(self, endpoint: str, method: str, path: str, **kwargs: Any) -> Answer:
        url = self.base_url + path
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        def fail(message: str, **extra: Any) -> YingdaoError:
            return YingdaoError(
                scrub(f"Yingdao {endpoint}: {message}")[:ERROR_TEXT_CHARS],
                endpoint=endpoint,
                latency_ms=elapsed(),
                url=url,
                **extra,
            )

        try:
            response = _session().request(method, url, timeout=timeouts(), **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise fail(f"unreachable: connection timed out after {timeouts()[0]:g}s") from None
        except requests.exceptions.ReadTimeout:
            raise fail(
                f"no answer within {settings.RPA_YINGDAO_TIMEOUT:g}s", may_have_reached=True
            ) from None
        except requests.exceptions.ConnectionError as exc:
            reason = _short(exc)
            # Refused or unresolvable: nothing was sent. A reset may have come after sending.
            sent = reason not in {"connection refused", "host name could not be resolved"}
            raise fail(f"unreachable: {reason}", may_have_reached=sent) from None
        except requests.exceptions.RequestException as exc:
            raise fail(f"request failed: {_short(exc)}", may_have_reached=True) from None

        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            error = fail(f"HTTP {status}: {response.text[:200].strip() or 'not a JSON answer'}", http_status=status)
            if status == 401:
                raise _Unauthorized(error)
            if status == 429:
                raise _RateLimited(error)
            error.may_have_reached = status >= 500
            raise error
        code = _as_int(payload.get("code"))
        if code == OK_CODE and payload.get("success", True) is not False and 200 <= status < 300:
            return Answer(
                data=payload.get("data"),
                http_status=status,
                latency_ms=elapsed(),
                url=url,
                page=payload.get("page") if isinstance(payload.get("page"), dict) else None,
            )
        message = str(payload.get("msg") or payload.get("message") or f"code {code}")
        error = fail(message, code=code, http_status=status)
        if code in UNAUTHORIZED_CODES or status == 401:
            raise _Unauthorized(error)
        if code in RATE_LIMITED_CODES or status == 429:
            raise _RateLimited(error)
        raise error


class _Unauthorized(Exception):
    def __init__(self, error: YingdaoError):
        self.error = error


class _RateLimited(Exception):
    def __init__(self, error: YingdaoError):
        self.error = error


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _short(exc: Exception) -> str:
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", None) or inner)
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host name could not be resolved"
    return text[:200]


def client() -> Client:
    """A client on the configured tenant, sharing the process's token and limiter."""
    return Client()
