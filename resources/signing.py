"""Signed, expiring URLs for stored files and proxied cloud objects (owned by the resources app).

`signed_resource_url(value)` turns a log's screenshot/log location (a cloud URL or a stored
file path) into a URL that works without an Authorization header — `<img src>` cannot send
one — or None when there is none. The signature covers exactly the URL or path it names and
carries its own timestamp (Django's `TimestampSigner`), so it can neither be reused for
another object nor outlive `RPA_SIGNED_URL_MAX_AGE`.
"""

from __future__ import annotations

import enum
from urllib.parse import quote, unquote, urlencode, urlsplit

from django.conf import settings
from django.core import signing

API_PREFIX = "/api/v1/resources/"


class Kind(enum.StrEnum):
    FILE = "file"
    PROXY = "proxy"


class SignatureState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


def _signer(kind: Kind) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"resources.{kind}")


def make_signature(kind: Kind, value: str) -> str:
    """The `timestamp:signature` tail of a signed value (the value itself travels in the URL)."""
    signed = _signer(kind).sign(value)
    return signed[len(value) + 1 :]


def check_signature(kind: Kind, value: str, signature: str | None) -> SignatureState:
    if not signature:
        return SignatureState.INVALID
    try:
        _signer(kind).unsign(f"{value}:{signature}", max_age=settings.RPA_SIGNED_URL_MAX_AGE)
    except signing.SignatureExpired:
        return SignatureState.EXPIRED
    except signing.BadSignature:
        return SignatureState.INVALID
    return SignatureState.VALID


def is_cloud_url(value: str) -> bool:
    return urlsplit(value).scheme.lower() in {"http", "https"}


LINK_RULE = "must be an http(s) URL or the path of a stored file"


def link_problem(value: str) -> str | None:
    """Why `value` may not be stored as a link the SPA shows (None when it may).

    Only two kinds are links: an http(s) URL with a host, and the path of one of our stored
    files (`configs/…`, optionally as `/api/v1/resources/configs/…`). Anything else —
    `javascript:`, `data:`, `file:`, `//host`, robot-local or absolute paths — is refused.
    """
    from resources.files import InvalidPath, clean_path

    try:
        parts = urlsplit(value)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        return LINK_RULE
    if parts.scheme.lower() in {"http", "https"}:
        return None if parts.hostname else "must be an http(s) URL with a host"
    if parts.scheme or parts.netloc:
        return LINK_RULE
    try:
        clean_path(value.removeprefix(API_PREFIX))
    except InvalidPath:
        return LINK_RULE
    return None


def safe_link(value: str | None) -> str | None:
    """`value` as a link may be shown: None when it would be a dangerous one.

    For values stored before `link_problem` was enforced. An http(s) URL or a scheme-less path
    (robot-local or relative: inert in an `href`) is kept; any other scheme (`javascript:`,
    `data:`, `vbscript:` …) or a scheme-relative `//host` link to another site is None.
    """
    if not value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in {"http", "https"}:
        return value
    if len(scheme) > 1 or parts.netloc:  # one letter is a Windows drive (C:\…), not a scheme
        return None
    return value


def signed_proxy_url(url: str, *, download: bool = False, filename: str | None = None) -> str:
    params = {"url": url}
    if download:
        params["filename"] = filename or url_filename(url)
    params["sig"] = make_signature(Kind.PROXY, url)
    endpoint = "proxy/download" if download else "proxy"
    return f"{API_PREFIX}{endpoint}?{urlencode(params)}"


def signed_file_url(path: str) -> str:
    return f"{API_PREFIX}{quote(path)}?{urlencode({'sig': make_signature(Kind.FILE, path)})}"


def url_filename(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name or "download"


def signed_resource_url(value: str | None, *, download: bool = False) -> str | None:
    """A signed proxy URL for an allow-listed http(s) URL, a signed file URL for a stored path.

    None when there is nothing to link: empty values, other schemes, hosts the proxy would
    refuse anyway, or paths that could not name a stored file (absolute, `..`, robot-local).
    """
    if not value:
        return None
    try:
        return _signed_url(value.strip(), download=download)
    except ValueError:  # e.g. "http://[broken" — a bad stored value must not break a log listing
        return None


def _signed_url(value: str, *, download: bool) -> str | None:
    if is_cloud_url(value):
        from resources.proxy import host_allowed

        parts = urlsplit(value)
        _ = parts.port  # a malformed port raises ValueError here, not when the link is used
        host = parts.hostname
        if not host or not host_allowed(host):
            return None
        return signed_proxy_url(value, download=download)
    if urlsplit(value).scheme and len(urlsplit(value).scheme) > 1:  # ftp:, file:, data: … (not C:\)
        return None
    from resources.files import InvalidPath, clean_path

    if value.startswith(API_PREFIX):
        value = value[len(API_PREFIX) :]
    try:
        path = clean_path(value)
    except InvalidPath:
        return None
    return signed_file_url(path)
