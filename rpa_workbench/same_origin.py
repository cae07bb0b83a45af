"""A GET that changes state must not run on a cookie alone (issue 13, item 2).

The SPA's start/stop is a `GET` (fixed by the contract), and the session cookie is
`SameSite=Lax`, so a link or a top-level navigation from another site would carry it. Django's
CSRF protection only covers unsafe methods, so a view whose GET changes state adds
`SessionNeedsSameOrigin` to its permission classes:

- a request authenticated by JWT (`Authorization: Bearer`) passes: a browser never attaches it
  on its own;
- a request authenticated by the session passes only if its `Origin` (or, without one, its
  `Referer`) is this site, a `CSRF_TRUSTED_ORIGINS` entry or a `CORS_ALLOWED_ORIGINS` entry
  (those origins may already make credentialed calls), or if it carries a valid CSRF token in
  the `X-CSRFToken` header, checked by Django's own CSRF middleware as for a POST;
- anything else is refused: 403 `CSRF_FAILED`.
"""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from rest_framework.authentication import CSRFCheck, SessionAuthentication
from rest_framework.permissions import BasePermission

from rpa_workbench.errors import ApiError

CSRF_FAILED = "CSRF_FAILED"


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _trusted(origin: str, request: HttpRequest) -> bool:
    own = f"{request.scheme}://{request.get_host()}".lower()
    if origin == own:
        return True
    listed = {entry.lower().rstrip("/") for entry in [*settings.CSRF_TRUSTED_ORIGINS, *settings.CORS_ALLOWED_ORIGINS]}
    if origin in listed:
        return True
    # CSRF_TRUSTED_ORIGINS may name subdomains as `https://*.example.com`, as Django allows.
    scheme, _, host = origin.partition("://")
    for entry in listed:
        entry_scheme, _, entry_host = entry.partition("://")
        if entry_host.startswith("*.") and scheme == entry_scheme and host.endswith(entry_host[1:]):
            return True
    return False


def same_origin(request: HttpRequest) -> bool:
    """True when the request's Origin — or, without one, its Referer — is a trusted origin."""
    origin_header = request.headers.get("Origin")
    if origin_header is not None:
        origin = _origin_of(origin_header)  # "null" (sandboxed or privacy-sensitive) → None
        return origin is not None and _trusted(origin, request)
    referer = request.headers.get("Referer")
    if referer:
        origin = _origin_of(referer)
        return origin is not None and _trusted(origin, request)
    return False


def valid_csrf_token(request: HttpRequest) -> bool:
    """Django's CSRF check for a POST (token from `X-CSRFToken` against the CSRF cookie, plus
    its Origin/Referer rules), run on a copy of this request as if it were one."""
    if not request.headers.get("X-CSRFToken"):
        return False
    as_post = copy.copy(request)
    as_post.method = "POST"
    as_post.META = dict(request.META)
    as_post._post, as_post._files = {}, {}  # the token is read from the header, never the body
    as_post.csrf_processing_done = False  # the middleware passed the GET itself: check afresh
    as_post._dont_enforce_csrf_checks = False  # not even the test client skips this one
    check = CSRFCheck(lambda _request: None)
    check.process_request(as_post)
    return check.process_view(as_post, None, (), {}) is None


def require_same_origin_for_session(request) -> None:
    """Raise 403 `CSRF_FAILED` for a session-authenticated request from another site."""
    if not isinstance(getattr(request, "successful_authenticator", None), SessionAuthentication):
        return
    raw = getattr(request, "_request", request)
    if same_origin(raw) or valid_csrf_token(raw):
        return
    raise ApiError(
        403,
        CSRF_FAILED,
        "this request changes state and was authenticated by a session cookie: it needs a same-origin "
        "Origin or Referer header or an X-CSRFToken header (or use Authorization: Bearer)",
    )


class SessionNeedsSameOrigin(BasePermission):
    """For views whose GET changes state (see the module docstring)."""

    def has_permission(self, request, view) -> bool:
        require_same_origin_for_session(request)
        return True
