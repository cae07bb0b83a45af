"""The safe fetcher behind `/resources/proxy`: an allow-listed cloud object, never an open proxy.

Every hop (the first URL and each redirect) is checked the same way, by the server's one
outbound guard (`rpa_workbench.outbound`, shared with the alert channels):
1. `http`/`https` only, no credentials in the URL, the host matches `RPA_PROXY_ALLOWED_HOSTS`;
2. every address the host resolves to must be public, unless the exact host, not a glob, is
   allow-listed;
3. the connection goes to the address that was checked, so DNS cannot change its answer in
   between.
Sizes and times are bounded while streaming; failures become 502s with a reason.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from rpa_workbench import outbound
from rpa_workbench.errors import ApiError
from rpa_workbench.outbound import Target

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
REDIRECT_STATUSES = outbound.REDIRECT_STATUSES
CHUNK_SIZE = 64 * 1024
# Read this much before answering, so small oversize or failing bodies still get a proper 502.
PREFETCH_BYTES = 256 * 1024
USER_AGENT = "rpa-workbench-proxy/1.0"


class UpstreamTooLarge(Exception):
    pass


class UpstreamTimeout(Exception):
    pass


def bad_gateway(code: str, message: str) -> ApiError:
    return ApiError(502, code, message)


def _patterns() -> list[str]:
    return [outbound.normalise_host(p) for p in settings.RPA_PROXY_ALLOWED_HOSTS if p.strip()]


def host_allowed(host: str) -> bool:
    host = outbound.normalise_host(host)
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in _patterns())


def host_exactly_allowed(host: str) -> bool:
    """Only a literal entry (no glob) may reach a private address: e.g. an intranet MinIO."""
    host = outbound.normalise_host(host)
    return any(not any(c in pattern for c in "*?[") and host == pattern for pattern in _patterns())


def validate_url(url: str) -> Target:
    """Check one URL against every rule above; ApiError (400/403/502) when it fails one."""
    try:
        parts = outbound.split_url(url, scheme_error="only http and https URLs can be proxied")
    except outbound.BadUrl as exc:
        raise ApiError(400, "VALIDATION_ERROR", f"url: {exc}") from None
    if not _patterns():
        raise ApiError(
            403,
            "PROXY_DISABLED",
            "the resource proxy is disabled: set RPA_PROXY_ALLOWED_HOSTS (e.g. *.aliyuncs.com) to enable it",
        )
    if not host_allowed(parts.host):
        raise ApiError(403, "PROXY_HOST_NOT_ALLOWED", f"host {parts.host} is not in RPA_PROXY_ALLOWED_HOSTS")
    try:
        addresses = outbound.checked_addresses(
            parts.host, parts.port, internal_allowed=host_exactly_allowed(parts.host)
        )
    except outbound.Unresolvable as exc:
        raise bad_gateway("UPSTREAM_UNREACHABLE", str(exc)) from None
    except outbound.AddressRefused as exc:
        raise ApiError(403, "PROXY_ADDRESS_REFUSED", str(exc)) from None
    return Target.of(parts, addresses[0])


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    return outbound.connection_pool(target, timeout, settings.RPA_PROXY_CA_BUNDLE or certifi.where())


@dataclass
class Upstream:
    """An upstream response whose headers are known and whose body is still to be read."""

    target: Target
    status: int
    headers: dict[str, str]
    _response: urllib3.BaseHTTPResponse
    _pool: urllib3.HTTPConnectionPool
    _max_bytes: int
    _deadline: float
    _prefetched: list[bytes] = field(default_factory=list)
    _done: bool = False
    _source: Iterator[bytes] = field(default_factory=lambda: iter(()))

    @property
    def content_length(self) -> int | None:
        raw = self.headers.get("content-length")
        return int(raw) if raw and raw.isdigit() else None

    def _raw_chunks(self) -> Iterator[bytes]:
        total = 0
        for chunk in self._response.stream(CHUNK_SIZE, decode_content=False):
            total += len(chunk)
            if total > self._max_bytes:
                raise UpstreamTooLarge(f"the object is larger than {self._max_bytes} bytes")
            if time.monotonic() > self._deadline:
                raise UpstreamTimeout("the transfer took too long")
            yield chunk

    def prefetch(self) -> None:
        """Read the first part of the body now, while a clean 502 can still be answered."""
        self._source = self._raw_chunks()
        buffered = 0
        try:
            for chunk in self._source:
                self._prefetched.append(chunk)
                buffered += len(chunk)
                if buffered >= PREFETCH_BYTES:
                    return
            self._done = True
        except UpstreamTooLarge as exc:
            self.close()
            raise bad_gateway("UPSTREAM_TOO_LARGE", f"upstream object refused: {exc}") from None
        except (UpstreamTimeout, ReadTimeoutError):
            self.close()
            raise bad_gateway("UPSTREAM_TIMEOUT", "upstream did not answer in time") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            self.close()
            raise bad_gateway("UPSTREAM_ERROR", f"upstream transfer failed: {type(exc).__name__}") from None

    def chunks(self) -> Iterator[bytes]:
        """The whole body; a limit broken mid-stream aborts the transfer (raises)."""
        try:
            yield from self._prefetched
            self._prefetched = []
            if not self._done:
                yield from self._source
        except Exception as exc:
            logger.warning("proxy transfer from %s aborted: %s", self.target.host, exc)
            raise
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._response.release_conn()
            self._response.close()
        finally:
            self._pool.close()


def fetch(url: str, *, forward_headers: dict[str, str] | None = None) -> Upstream:
    """Open `url` through every check, following at most MAX_REDIRECTS validated redirects.

    Answers with the upstream's headers and a prefetched body start; raises ApiError otherwise.
    """
    timeout = urllib3.Timeout(connect=settings.RPA_PROXY_CONNECT_TIMEOUT, read=settings.RPA_PROXY_READ_TIMEOUT)
    deadline = time.monotonic() + settings.RPA_PROXY_TOTAL_TIMEOUT
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        try:
            target = validate_url(current)
        except ApiError as exc:
            if hop == 0:
                raise
            raise bad_gateway("UPSTREAM_REDIRECT_REFUSED", f"redirect to {current} refused: {exc.message}") from None
        headers = {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",
            **(forward_headers or {}),
        }
        pool = _pool(target, timeout)
        try:
            response = pool.urlopen(
                "GET",
                target.request_target,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
                decode_content=False,
            )
        except Exception as exc:
            pool.close()
            raise _connection_error(target, exc) from None
        if response.status in REDIRECT_STATUSES and response.headers.get("location"):
            location = response.headers["location"]
            response.drain_conn()
            response.release_conn()
            pool.close()
            current = urljoin(target.url, location)
            continue
        upstream = Upstream(
            target=target,
            status=response.status,
            headers={k.lower(): v for k, v in response.headers.items()},
            _response=response,
            _pool=pool,
            _max_bytes=settings.RPA_PROXY_MAX_BYTES,
            _deadline=deadline,
        )
        if response.status == 304:
            upstream.close()
            return upstream
        if not 200 <= response.status < 300:
            upstream.close()
            raise bad_gateway("UPSTREAM_ERROR", f"upstream answered HTTP {response.status} for {target.host}")
        length = upstream.content_length
        if length is not None and length > settings.RPA_PROXY_MAX_BYTES:
            upstream.close()
            raise bad_gateway(
                "UPSTREAM_TOO_LARGE",
                f"upstream object is {length} bytes, more than the {settings.RPA_PROXY_MAX_BYTES} allowed",
            )
        upstream.prefetch()
        return upstream
    raise bad_gateway("UPSTREAM_TOO_MANY_REDIRECTS", f"more than {MAX_REDIRECTS} redirects")


def _connection_error(target: Target, exc: Exception) -> ApiError:
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError in urllib3
        return bad_gateway("UPSTREAM_UNREACHABLE", f"could not connect to {target.host}")
    if isinstance(exc, ConnectTimeoutError):
        return bad_gateway("UPSTREAM_TIMEOUT", f"connecting to {target.host} timed out")
    if isinstance(exc, ReadTimeoutError):
        return bad_gateway("UPSTREAM_TIMEOUT", f"{target.host} did not answer in time")
    if isinstance(exc, SSLError):
        return bad_gateway("UPSTREAM_TLS_ERROR", f"TLS with {target.host} failed (certificate or protocol)")
    if isinstance(exc, ProtocolError | HTTPError | OSError):
        return bad_gateway("UPSTREAM_UNREACHABLE", f"could not connect to {target.host}")
    logger.exception("unexpected proxy failure for %s", target.host)
    return bad_gateway("UPSTREAM_ERROR", f"fetching from {target.host} failed")
