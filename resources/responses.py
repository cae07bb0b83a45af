"""HTTP responses for stored files and proxied objects: streaming, ranges, caching headers.

Under ASGI (Daphne) Django would buffer a synchronous iterator completely before sending it,
so bodies are handed over as async iterators there, each chunk read in a worker thread; the
sync iterator is kept for WSGI and the test client.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import IO
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

from resources.files import StoredFile
from resources.proxy import Upstream
from rpa_workbench.errors import json_error_response

CHUNK_SIZE = 64 * 1024
PROXY_CACHE_CONTROL = "public, max-age=1296000"
DOWNLOAD_CACHE_CONTROL = "no-store"
FILE_CACHE_CONTROL = "private, no-cache"
# Served bytes come from robots and buckets: never let them run as a page on our origin.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; media-src 'self'"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_ASCII_UNSAFE = re.compile(r'[^A-Za-z0-9._ ()\-\[\]+,]')


def body_iterator(request, chunks: Iterator[bytes]) -> Iterator[bytes] | AsyncIterator[bytes]:
    raw = getattr(request, "_request", request)
    if isinstance(raw, ASGIRequest):
        return _in_threads(chunks)
    return chunks


async def _in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    done = object()
    step = sync_to_async(next, thread_sensitive=False)
    try:
        while True:
            chunk = await step(chunks, done)
            if chunk is done:
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=False)()


def content_disposition(disposition: str, filename: str | None) -> str:
    """`attachment; filename="report.xlsx"; filename*=UTF-8''%E6%8A%A5…` (RFC 6266/5987)."""
    if not filename:
        return disposition
    filename = filename.replace("\r", "").replace("\n", "").replace("/", "_").replace("\\", "_")
    fallback = _ASCII_UNSAFE.sub("_", filename)
    if fallback == filename:
        return f'{disposition}; filename="{filename}"'
    stem, dot, ext = fallback.rpartition(".")
    if not dot:
        stem, ext = fallback, ""
    if not stem.strip("_"):
        fallback = "download" + (f".{ext}" if ext else "")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def proxy_response(request, upstream: Upstream, *, download_filename: str | None = None) -> HttpResponse:
    if upstream.status == 304:
        response: HttpResponse = HttpResponse(status=304)
    else:
        response = StreamingHttpResponse(
            body_iterator(request, upstream.chunks()),
            content_type=upstream.headers.get("content-type") or "application/octet-stream",
        )
        for name in ("content-length", "content-encoding"):
            if upstream.headers.get(name):
                response[name] = upstream.headers[name]
    for name in ("etag", "last-modified"):
        if upstream.headers.get(name):
            response[name] = upstream.headers[name]
    if download_filename is not None:
        response["Cache-Control"] = DOWNLOAD_CACHE_CONTROL
        response["Content-Disposition"] = content_disposition("attachment", download_filename)
    else:
        response["Cache-Control"] = PROXY_CACHE_CONTROL
        response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = SANDBOX_CSP
    return response


def _read(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(CHUNK_SIZE, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


# Positions longer than this are past the end of any file; Python refuses to convert numbers of
# more than 4,300 digits at all (a ValueError, once a 500).
MAX_POSITION_DIGITS = 18
PAST_ANY_FILE = 10**MAX_POSITION_DIGITS


def _position(digits: str) -> int:
    """A byte position from a Range header; an absurdly long one is a position past any file."""
    stripped = digits.lstrip("0") or "0"
    return PAST_ANY_FILE if len(stripped) > MAX_POSITION_DIGITS else int(stripped)


def requested_range(request, stored: StoredFile) -> tuple[int, int] | None | bool:
    """(start, end inclusive) for one satisfiable byte range; None = whole file; False = 416.

    Unparsable, multi-part, or stale (`If-Range` not matching) ranges are ignored, as RFC 9110 allows.
    """
    header = request.headers.get("Range", "").replace(" ", "")
    if not header:
        return None
    if_range = request.headers.get("If-Range")
    if if_range and if_range != stored.etag:
        return None
    match = _RANGE.match(header)
    if not match or match.group(1) == match.group(2) == "":
        return None
    size = stored.size
    first, last = match.groups()
    if first == "":
        suffix = _position(last)
        if suffix == 0 or size == 0:
            return False
        return max(size - suffix, 0), size - 1
    start = _position(first)
    end = _position(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


def file_response(request, stored: StoredFile) -> HttpResponse:
    """A stored file with ETag/Last-Modified (304s), byte ranges (206/416) and a safe content type."""
    last_modified = int(stored.modified.timestamp()) if stored.modified else None
    not_modified = get_conditional_response(request, etag=stored.etag, last_modified=last_modified)
    if not_modified is not None:
        not_modified["ETag"] = stored.etag
        return not_modified
    byte_range = requested_range(request, stored)
    if byte_range is False:
        response: HttpResponse = json_error_response(
            416, f"range not satisfiable: the file has {stored.size} bytes", "RANGE_NOT_SATISFIABLE"
        )
        response["Content-Range"] = f"bytes */{stored.size}"
        return response
    start, end = byte_range if byte_range else (0, stored.size - 1)
    length = max(end - start + 1, 0)
    handle = stored.open()
    if start:
        handle.seek(start)
    response = StreamingHttpResponse(
        body_iterator(request, _read(handle, length)),
        status=206 if byte_range else 200,
        content_type=stored.content_type,
    )
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = stored.etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    response["Cache-Control"] = FILE_CACHE_CONTROL
    response["Content-Disposition"] = content_disposition("inline", stored.filename)
    response["Content-Security-Policy"] = SANDBOX_CSP
    return response
