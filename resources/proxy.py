"""The safe fetcher behind `/resources/proxy`: an allow-listed cloud object, never an open proxy.

Every hop (the first URL and each redirect) is checked the same way:
1. `http`/`https` only, no credentials in the URL, the host matches `RPA_PROXY_ALLOWED_HOSTS`;
2. the host is resolved here, and every address it resolves to must be public (not loopback,
   private, link-local, multicast, reserved, unspecified, shared, cloud metadata — also when
   wrapped in IPv6 as IPv4-mapped, 6to4, Teredo or NAT64), unless the exact host, not a glob,
   is allow-listed;
3. the connection goes to the address that was checked (the URL's host only travels in the
   `Host` header and TLS SNI/certificate check), so DNS cannot change its answer in between.
Sizes and times are bounded while streaming; failures become 502s with a reason.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from requests.utils import requote_uri
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from rpa_workbench.errors import ApiError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK_SIZE = 64 * 1024
# Read this much before answering, so small oversize or failing bodies still get a proper 502.
PREFETCH_BYTES = 256 * 1024
MAX_URL_LENGTH = 4096
USER_AGENT = "rpa-workbench-proxy/1.0"

METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Aliyun ECS (also) …
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Aliyun metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6 metadata
}
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_ADDRESS_CHECKS = (
    ("is_loopback", "a loopback address"),
    ("is_private", "a private address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_reserved", "a reserved address"),
    ("is_unspecified", "an unspecified address"),
)


class UpstreamTooLarge(Exception):
    pass


class UpstreamTimeout(Exception):
    pass


def bad_gateway(code: str, message: str) -> ApiError:
    return ApiError(502, code, message)


def _patterns() -> list[str]:
    return [p.strip().lower().strip("[]").rstrip(".") for p in settings.RPA_PROXY_ALLOWED_HOSTS if p.strip()]


def _normalise_host(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def host_allowed(host: str) -> bool:
    host = _normalise_host(host)
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in _patterns())


def host_exactly_allowed(host: str) -> bool:
    """Only a literal entry (no glob) may reach a private address: e.g. an intranet MinIO."""
    host = _normalise_host(host)
    return any(not any(c in pattern for c in "*?[") and host == pattern for pattern in _patterns())


def refusal_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the proxy must not connect to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and address in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = refusal_reason(embedded)
            if inner:
                return f"{inner} wrapped in IPv6"
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for attribute, label in _ADDRESS_CHECKS:
        if getattr(address, attribute):
            return label
    if not address.is_global:
        return "not a public address"
    return None


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses `host` resolves to (tests replace this to play the part of DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for info in infos:
        address = info[4][0].split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class Target:
    """One validated hop: where to connect (`address`) and what to ask for there."""

    url: str
    scheme: str
    host: str
    port: int
    request_target: str
    address: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def validate_url(url: str) -> Target:
    """Check one URL against every rule above; ApiError (400/403/502) when it fails one."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise ApiError(400, "VALIDATION_ERROR", "url: a http(s) URL is required")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ApiError(400, "VALIDATION_ERROR", "url: control characters are not allowed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ApiError(400, "VALIDATION_ERROR", f"url: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise ApiError(400, "VALIDATION_ERROR", "url: only http and https URLs can be proxied")
    if parts.username is not None or parts.password is not None:
        raise ApiError(400, "VALIDATION_ERROR", "url: credentials in the URL are not allowed")
    if not parts.hostname:
        raise ApiError(400, "VALIDATION_ERROR", "url: the URL has no host")
    try:
        host = _normalise_host(parts.hostname).encode("idna").decode("ascii")
    except UnicodeError:
        raise ApiError(400, "VALIDATION_ERROR", "url: the host name is not valid") from None
    port = port or (443 if scheme == "https" else 80)

    if not _patterns():
        raise ApiError(
            403,
            "PROXY_DISABLED",
            "the resource proxy is disabled: set RPA_PROXY_ALLOWED_HOSTS (e.g. *.aliyuncs.com) to enable it",
        )
    if not host_allowed(host):
        raise ApiError(403, "PROXY_HOST_NOT_ALLOWED", f"host {host} is not in RPA_PROXY_ALLOWED_HOSTS")

    try:
        literal = ipaddress.ip_address(host)
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = resolve_host(host, port)
        except (OSError, UnicodeError):
            raise bad_gateway("UPSTREAM_UNREACHABLE", f"could not resolve host {host}") from None
    if not addresses:
        raise bad_gateway("UPSTREAM_UNREACHABLE", f"host {host} has no address")
    if not host_exactly_allowed(host):
        for address in addresses:
            reason = refusal_reason(ipaddress.ip_address(address))
            if reason:
                raise ApiError(
                    403, "PROXY_ADDRESS_REFUSED", f"host {host} resolves to {address}, {reason}; refused"
                )

    path = parts.path or "/"
    request_target = requote_uri(path + (f"?{parts.query}" if parts.query else ""))
    return Target(url, scheme, host, port, request_target, addresses[0])


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.RPA_PROXY_CA_BUNDLE or certifi.where(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, maxsize=1, retries=False)


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
