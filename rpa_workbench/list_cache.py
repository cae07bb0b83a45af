"""Cached reads: the lists and dashboard figures as a function of what shapes them.

The account, task, job and log lists and the dashboard's reads change only through changes that
publish an event in their own transaction (`rpa_workbench.events`; each mutation path is tested
to move the newest event position). So such an answer is a function of
1. the request: its path, its query (normalized: parameters sorted by name), the format
   negotiated and the language;
2. who asks, where that shapes the answer: `admin`, or the set of the user's permissions
   (already loaded by the permission check; it gates the lists, and a future field shown to
   some roles only would be keyed right);
3. the newest event position, read in one statement (`event_store.watermark`): the highest
   stamped position and, on PostgreSQL, the number of committed events not stamped yet — a
   change is visible from its commit, before the sequencer stamps its event, and the count moves
   at that commit (docs/architecture.md, "Cached reads");
4. for a read with fields derived from the moment (a robot's presence from its last contact, a
   dashboard window ending now, signed links), the moment rounded down to
   `RPA_LIST_CACHE_BUCKET_SECONDS`: such fields are exact to that bound, by the view's own clock
   (`cache_clock`, so tests that move the presence clock move the key).

The key is read before the answer is computed, so a cached answer is never older than its key
(it may be newer: a change committed in between; the next read has a newer key). The answer is
stored rendered (bytes) in Django's cache `RPA_LIST_CACHE_ALIAS` (per process by default;
settings.py names the shared options), and its weak `ETag` is a digest of the key: a browser's
`If-None-Match` that matches is answered 304 after the key's one read, with no list query.

Views opt in: `CachedListMixin` for a DRF viewset's inherited `list`, `cached_read` on a handler
the view defines itself (an `APIView.get`, a viewset's own `list`),
`cached_value` for the event-derived part of an answer that also has parts that are not.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags

from rpa_workbench import event_store
from rpa_workbench.permissions import is_admin

CACHED_FORMATS = {"json"}


def _cache():
    return caches[settings.RPA_LIST_CACHE_ALIAS]


def role(user) -> str:
    """What of the user shapes an answer: admin, or their permissions (a digest)."""
    if is_admin(user):
        return "admin"
    perms = ",".join(sorted(user.get_all_permissions())) if user.is_authenticated else ""
    return "perms:" + hashlib.sha256(perms.encode()).hexdigest()[:16]


def normalized_query(request) -> str:
    """The query string with its parameters sorted by name (each name's values kept in order)."""
    query = request.query_params
    return urlencode([(name, value) for name in sorted(query) for value in query.getlist(name)])


def moment_bucket(view) -> float | None:
    """The view's moment rounded down to the bucket (the moment itself with a bucket of 0: each
    read computes); None when nothing the view shows is derived from the moment."""
    if not getattr(view, "cache_time_derived", False):
        return None
    clock: Callable[[], datetime] = getattr(view, "cache_clock", timezone.now)
    seconds = float(settings.RPA_LIST_CACHE_BUCKET_SECONDS)
    moment = clock().timestamp()
    return math.floor(moment / seconds) if seconds > 0 else moment


def read_key(view, request, *, kind: str = "response") -> str:
    """The key of this request's answer (one statement: the newest event position)."""
    position, pending = event_store.watermark()
    renderer = getattr(request, "accepted_media_type", "") or ""
    parts = (
        kind,
        request.path,
        normalized_query(request),
        renderer,
        translation.get_language() or "",
        role(request.user),
        f"{position}+{pending}",
        str(moment_bucket(view)),
    )
    return "rpa-read:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def etag(key: str) -> str:
    return f'W/"{key.rsplit(":", 1)[1][:32]}"'


def _matches(request, tag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    wanted = tag.removeprefix("W/")
    return any(candidate == "*" or candidate.removeprefix("W/") == wanted for candidate in parse_etags(header))


def _revalidate_headers(response: HttpResponse, tag: str) -> HttpResponse:
    """Every answer carries its ETag, and a browser asks again before reusing it."""
    response["ETag"] = tag
    patch_cache_control(response, private=True, no_cache=True)
    return response


def cached_response(view, request, compute: Callable[[], Any]) -> Any:
    """The answer of `compute()` (a DRF `Response`) for this request, from the cache when its key
    is there; 304 when the client's `If-None-Match` names it. Errors and other statuses pass
    through uncached, and so does a format other than JSON (the browsable API)."""
    renderer = getattr(request, "accepted_renderer", None)
    if request.method not in ("GET", "HEAD") or renderer is None or renderer.format not in CACHED_FORMATS:
        return compute()
    key = read_key(view, request)
    tag = etag(key)
    if _matches(request, tag):
        return _revalidate_headers(HttpResponseNotModified(), tag)
    stored = _cache().get(key)
    if stored is None:
        response = compute()
        if getattr(response, "status_code", None) != 200 or not hasattr(response, "data"):
            return response
        body = renderer.render(response.data, request.accepted_media_type, view.get_renderer_context())
        charset = getattr(renderer, "charset", None)
        content_type = f"{renderer.media_type}; charset={charset}" if charset else renderer.media_type
        stored = (body, content_type)
        _cache().set(key, stored)
    body, content_type = stored
    return _revalidate_headers(HttpResponse(body, content_type=content_type), tag)


def cached_value(view, request, compute: Callable[[], Any], *, name: str) -> Any:
    """`compute()` for this request from the cache (the value, not a response): the
    event-derived part of an answer whose other parts are computed every time (no ETag)."""
    key = read_key(view, request, kind=f"value:{name}")
    value = _cache().get(key)
    if value is None:
        value = compute()
        _cache().set(key, value)
    return value


def cached_read(method: Callable) -> Callable:
    """For a view's own handler (an `APIView.get`, a viewset's own `list`) whose answer is
    event-derived; the view's `cache_time_derived` and `cache_clock` apply as for the mixin."""

    @functools.wraps(method)
    def handler(view, request, *args, **kwargs):
        return cached_response(view, request, lambda: method(view, request, *args, **kwargs))

    return handler


class CachedListMixin:
    """For a DRF viewset: its `list` served by `cached_response`. Put it first in the bases."""

    cache_time_derived = False  # True: a field depends on the moment (see the module's 4.)

    def list(self, request, *args, **kwargs):
        return cached_response(self, request, lambda: super(CachedListMixin, self).list(request, *args, **kwargs))
