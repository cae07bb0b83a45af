"""The relay protocol (API.md §2): the one place that builds and sends control requests.

The backend controls a robot by a `GET <RPA_RELAY_URL>?backend_ip=&backend_port=&tak=&target=&timestamp=`.
Any 2xx means the relay delivered it. `RPA_RELAY_CONNECT_TIMEOUT` bounds connecting and
`RPA_RELAY_TIMEOUT` the whole call. Only a refused connection is retried (once): once a request
may have reached the relay, repeating it could run the app twice, so read errors, timeouts and
error statuses are never retried, and a connection that timed out already used its share of the
budget.
Every failure surfaces as one exception type, `RelayError`, carrying the reason, the (redacted)
URL, the HTTP status if any and the latency.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

START = "START"
STOP = "ALL"
TARGETS = (START, STOP)

# Failed connections (nothing reached the relay) are retried this many times.
CONNECT_RETRIES = 1
# How much of an error body is kept in the message.
ERROR_BODY_CHARS = 200


class RelayError(Exception):
    """A control request that did not (certainly) reach the robot, and why."""

    def __init__(
        self,
        reason: str,
        *,
        url: str = "",
        status: int | None = None,
        latency_ms: int | None = None,
        configured: bool = True,
        may_have_reached: bool = False,
    ):
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status
        self.latency_ms = latency_ms
        # False when there is no relay URL at all (a configuration problem, not an outage).
        self.configured = configured
        # True when the request may have reached the relay (a read timeout, a connection dropped
        # after sending): a START that may have arrived is never sent again.
        self.may_have_reached = may_have_reached


@dataclass(frozen=True)
class RelayResult:
    url: str
    status: int
    latency_ms: int


def is_configured() -> bool:
    return bool(settings.RPA_RELAY_URL)


class _RefusedConnectionRetry(Retry):
    """Retries a refused connection, but gives up at once after a connect timeout, so that the
    call stays within `RPA_RELAY_TIMEOUT`."""

    def increment(self, *args, **kwargs):
        error = kwargs.get("error")
        # NewConnectionError (refused, unreachable) subclasses ConnectTimeoutError in urllib3 2.
        if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            return super(_RefusedConnectionRetry, self.new(total=0, connect=0)).increment(*args, **kwargs)
        return super().increment(*args, **kwargs)


def timeouts() -> tuple[float, float]:
    """(connect, read) timeouts keeping connecting plus waiting for the answer within
    `RPA_RELAY_TIMEOUT` in all."""
    total = settings.RPA_RELAY_TIMEOUT
    connect = min(settings.RPA_RELAY_CONNECT_TIMEOUT, total)
    return connect, max(total - connect, 0.1)


def _new_session() -> requests.Session:
    retry = _RefusedConnectionRetry(
        total=CONNECT_RETRIES,
        connect=CONNECT_RETRIES,
        read=False,  # re-raise read errors as they are (requests then reports a ReadTimeout), never retry
        status=0,
        other=0,
        redirect=3,
        allowed_methods=None,
        raise_on_status=False,
        backoff_factor=0,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=20)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # never route robot control through a proxy picked up from the environment
    return session


class _RedactRelaySecrets(logging.Filter):
    """urllib3 logs the URLs it retries and connects to; keep the relay's credentials and key
    (from `RPA_RELAY_URL`) out of those log lines, whatever the log level."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if not settings.RPA_RELAY_URL:
                return True
            message = record.getMessage()
            scrubbed = _scrub(message, "", "")
        except Exception:  # never let redaction break logging (e.g. settings not configured)
            return True
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_log_filter = _RedactRelaySecrets()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_log_filter)

_local = threading.local()


def session() -> requests.Session:
    """One session (connection pool) per thread: requests sessions are not documented thread-safe."""
    current = getattr(_local, "session", None)
    if current is None:
        current = _local.session = _new_session()
    return current


def control_url(
    *, backend_ip: str, backend_port: int | str, app_name: str, target: str, timestamp: int | None = None
) -> str:
    """The exact GET URL of API.md §2, keeping any query the configured relay URL already has."""
    base = urlsplit(settings.RPA_RELAY_URL)
    params = parse_qsl(base.query, keep_blank_values=True)
    params += [
        ("backend_ip", str(backend_ip)),
        ("backend_port", str(backend_port)),
        ("tak", app_name),
        ("target", target),
        ("timestamp", str(int(time.time()) if timestamp is None else timestamp)),
    ]
    return urlunsplit((base.scheme, base.netloc, base.path, urlencode(params), ""))


def redact(url: str) -> str:
    """The URL without secrets: no user:password, and the configured relay URL's own query
    values (e.g. an access key) masked. Our protocol parameters stay readable."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    own = {"backend_ip", "backend_port", "tak", "target", "timestamp"}
    query = [(k, v if k in own else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))


def send(*, backend_ip: str, backend_port: int | str, app_name: str, target: str) -> RelayResult:
    """Send one control request; return on 2xx, raise `RelayError` otherwise."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    if not is_configured():
        raise RelayError("relay not configured: set RPA_RELAY_URL", configured=False)
    try:
        url = control_url(backend_ip=backend_ip, backend_port=backend_port, app_name=app_name, target=target)
        safe_url = redact(url)
    except ValueError as exc:  # e.g. a port that is not a number, an unclosed IPv6 bracket
        raise RelayError(f"relay URL is invalid (check RPA_RELAY_URL): {exc}") from None
    timeout = timeouts()
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def clean(text: str) -> str:
        return _scrub(text, url, safe_url)

    try:
        response = session().get(url, timeout=timeout, stream=True)
    except requests.exceptions.ConnectTimeout:
        reason = f"relay unreachable: connection timed out after {timeout[0]:g}s"
        raise RelayError(reason, url=safe_url, latency_ms=elapsed()) from None
    except requests.exceptions.ReadTimeout:
        reason = f"relay did not answer within {settings.RPA_RELAY_TIMEOUT:g}s"
        raise RelayError(reason, url=safe_url, latency_ms=elapsed(), may_have_reached=True) from None
    except requests.exceptions.ConnectionError as exc:
        reason = clean(f"relay unreachable: {_short(exc)}")
        raise RelayError(reason, url=safe_url, latency_ms=elapsed(), may_have_reached=_after_connecting(exc)) from None
    except requests.exceptions.RequestException as exc:
        reason = clean(f"relay request failed: {_short(exc)}")
        raise RelayError(reason, url=safe_url, latency_ms=elapsed()) from None

    with response:
        status = response.status_code
        if 200 <= status < 300:
            return RelayResult(url=safe_url, status=status, latency_ms=elapsed())
        try:
            snippet = next(response.iter_content(ERROR_BODY_CHARS), b"").decode("utf-8", "replace").strip()
        except requests.exceptions.RequestException:
            snippet = ""
    reason = f"relay answered HTTP {status}" + (f": {clean(snippet)}" if snippet else "")
    raise RelayError(reason, url=safe_url, status=status, latency_ms=elapsed())


# Secrets shorter than this are not masked inside reasons (masking "1" would mangle "HTTP 500").
MIN_SCRUBBED_CHARS = 4


def _scrub(text: str, url: str, safe_url: str) -> str:
    """`text` without the relay URL's secrets: the full URL becomes its redacted form, and the
    user, password and the configured URL's own query values are masked wherever they appear
    (error messages of requests/urllib3 may quote the URL they were given)."""
    if url:
        text = text.replace(url, safe_url)
    base = urlsplit(settings.RPA_RELAY_URL)
    userinfo, _, _ = base.netloc.rpartition("@")
    if userinfo:
        text = text.replace(userinfo + "@", "")
    secrets = [base.username or "", base.password or ""]
    secrets += [value for _, value in parse_qsl(base.query, keep_blank_values=True)]
    for secret in sorted({s for s in secrets if len(s) >= MIN_SCRUBBED_CHARS}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


def _after_connecting(exc: Exception) -> bool:
    """Whether a connection error happened after the connection was made (the request may have
    been sent), rather than while connecting (refused, unreachable, name not resolved)."""
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return not isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _short(exc: Exception) -> str:
    """A readable one-line reason, without urllib3's nested reprs (which repeat the full URL)."""
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "Failed to resolve" in text:
        return "host name could not be resolved"
    return text[:ERROR_BODY_CHARS]
