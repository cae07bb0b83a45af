"""The one guard for every connection the server opens on someone else's say-so: the resource
proxy's downloads and the alert channels' posts (docs/security.md).

An admin, an operator or a redirect chooses the URL; this module makes sure it cannot aim the
server at itself or its network:
1. `http`/`https` only, no credentials in the URL (`split_url`);
2. the host is resolved here, and every address it resolves to must be public — not loopback,
   private, link-local, multicast, reserved, unspecified, shared or cloud metadata, also when
   wrapped in IPv6 as IPv4-mapped, 6to4, Teredo or NAT64 (`checked_addresses`). Numeric
   spellings (`2130706433`, `0x7f.0.0.1`, `127.1`) resolve like any name, so they are caught
   too. The caller decides which hosts may be internal (an explicit allow-list);
3. the connection goes to the address that was checked (`connection_pool`): the URL's host only
   travels in the `Host` header and the TLS SNI/certificate check, so DNS cannot change its
   answer in between.
Callers check every redirect hop the same way.

Imports no domain app (rpa_workbench's layering rule): resources and alerts both use it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from requests.utils import requote_uri

MAX_URL_LENGTH = 4096
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

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


class BadUrl(ValueError):
    """The URL itself is unusable (scheme, credentials, host); the message names why."""


class Unresolvable(Exception):
    """The host has no address (DNS failed or answered nothing)."""


class AddressRefused(Exception):
    """The host resolves to an address the server must not connect to."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"host {host} resolves to {address}, {reason}; refused")
        self.host, self.address, self.reason = host, address, reason


def normalise_host(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def refusal_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the server must not connect to `address`, or None when it is a public address."""
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


def checked_addresses(host: str, port: int, *, internal_allowed: bool = False) -> list[str]:
    """The addresses to connect to for `host`: every one public, unless `internal_allowed`
    (the caller's allow-list named this host). Raises Unresolvable or AddressRefused."""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve_host(host, port)
        except (OSError, UnicodeError):
            raise Unresolvable(f"could not resolve host {host}") from None
    if not addresses:
        raise Unresolvable(f"host {host} has no address")
    if not internal_allowed:
        for address in addresses:
            reason = refusal_reason(ipaddress.ip_address(address))
            if reason:
                raise AddressRefused(host, address, reason)
    return addresses


@dataclass(frozen=True)
class HttpUrl:
    """An http(s) URL taken apart: what to resolve, and what to ask for there."""

    url: str
    scheme: str
    host: str  # normalised, IDNA-encoded
    port: int
    request_target: str


def split_url(url: str, *, scheme_error: str = "only http and https URLs are allowed") -> HttpUrl:
    """`url` as an HttpUrl; BadUrl (message without a field prefix) when it cannot be one."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise BadUrl("a http(s) URL is required")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise BadUrl("control characters are not allowed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl(str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BadUrl(scheme_error)
    if parts.username is not None or parts.password is not None:
        raise BadUrl("credentials in the URL are not allowed")
    if not parts.hostname:
        raise BadUrl("the URL has no host")
    try:
        host = normalise_host(parts.hostname).encode("idna").decode("ascii")
    except UnicodeError:
        raise BadUrl("the host name is not valid") from None
    path = parts.path or "/"
    request_target = requote_uri(path + (f"?{parts.query}" if parts.query else ""))
    return HttpUrl(url, scheme, host, port or (443 if scheme == "https" else 80), request_target)


@dataclass(frozen=True)
class Target:
    """One validated hop: where to connect (`address`) and what to ask for there."""

    url: str
    scheme: str
    host: str
    port: int
    request_target: str
    address: str

    @classmethod
    def of(cls, parts: HttpUrl, address: str) -> Target:
        return cls(parts.url, parts.scheme, parts.host, parts.port, parts.request_target, address)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def connection_pool(target: Target, timeout: urllib3.Timeout, ca_certs: str) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to the checked address; HTTPS verifies the URL's host name."""
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, maxsize=1, retries=False)
