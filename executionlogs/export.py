"""CSV export of execution logs (API.md §3), shared by the API and the admin action.

The response streams: rows come from `QuerySet.iterator()` in batches and are encoded batch by
batch, so memory stays flat however many rows match. Under ASGI (Daphne) Django would buffer a
synchronous iterator whole, so there the same generator is fed through an async wrapper.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.db.models import JSONField, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from rpa_workbench.timefmt import format_datetime

HEADER = [
    "id",
    "text",
    "app_name",
    "shadow_bot_account",
    "status",
    "start_time",
    "end_time",
    "duration",
    "host_ip",
    "log_info",
    "screenshot",
    "created_at",
]
# `?columns=extended`: the screenshot and log URLs the robot reported, after the fixed header,
# and the outputs of the job the log ended (API.md §11, JSON).
EXTENDED_HEADER = [*HEADER, "screenshot_path", "log_content", "outputs"]
COLUMN_SETS = {"default": HEADER, "extended": EXTENDED_HEADER}
BOM = "\ufeff"
BATCH_ROWS = 500
# Spreadsheets treat these leading characters as the start of a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Prefix a would-be formula with `'` so Excel and LibreOffice show it as text."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        return neutralise(json.dumps(value, ensure_ascii=False))
    return neutralise(str(value))


def with_job_outputs(queryset: QuerySet) -> QuerySet:
    """Each log with `outputs`: those of the (latest) job it ended, in one correlated subquery."""
    from jobs.models import Job

    latest = Job.objects.filter(execution_log=OuterRef("pk")).order_by("-created_at").values("outputs")[:1]
    return queryset.annotate(outputs=Subquery(latest, output_field=JSONField()))


class _Line:
    """A write-only file for csv.writer: `write` hands back the formatted line."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(queryset: QuerySet, columns: list[str] = HEADER) -> Iterator[bytes]:
    """The BOM and header, then the rows in batches of BATCH_ROWS, as UTF-8 bytes."""
    writer = csv.writer(_Line())
    yield (BOM + writer.writerow(columns)).encode("utf-8")
    batch: list[str] = []
    if "outputs" in columns:
        queryset = with_job_outputs(queryset)
    for row in queryset.values_list(*columns).iterator(chunk_size=BATCH_ROWS):
        batch.append(writer.writerow([_cell(value) for value in row]))
        if len(batch) >= BATCH_ROWS:
            yield "".join(batch).encode("utf-8")
            batch = []
    if batch:
        yield "".join(batch).encode("utf-8")


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # thread_sensitive: every batch is read on the request's own thread, with one database
    # connection from the first batch to the last; that thread ends with the request, so its
    # connection is closed here rather than left for the garbage collector.
    pull = sync_to_async(next, thread_sensitive=True)
    try:
        while True:
            chunk = await pull(chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        await sync_to_async(_close_connection, thread_sensitive=True)(chunks)


def _close_connection(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    connection.close()


def export_filename(now: datetime | None = None) -> str:
    now = timezone.localtime(now or timezone.now())
    return f"execution_logs_{now:%Y%m%d_%H%M%S}.csv"


def csv_response(queryset: QuerySet, request: HttpRequest, columns: list[str] = HEADER) -> StreamingHttpResponse:
    chunks = csv_chunks(queryset, columns)
    content: Iterable[bytes] | AsyncIterator[bytes] = (
        _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks
    )
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename={export_filename()}"
    response["Cache-Control"] = "no-store"
    return response
