"""API.md §3 export: streamed CSV with BOM, the exact header, every matching row, no formulas."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse

from executionlogs.export import HEADER, neutralise
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs/export"
EXACT_HEADER = b"id,text,app_name,shadow_bot_account,status,start_time,end_time,duration,host_ip,log_info,screenshot,created_at\r\n"


def many_logs(count: int, **fields) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ExecutionLog.objects.bulk_create(
        ExecutionLog(
            id=uuid.uuid4(),
            text=f"Ran app: completed #{n}",
            app_name=fields.get("app_name", "bulk_app"),
            shadow_bot_account="bot_01",
            host_ip="10.0.0.1",
            status="failed" if n % 3 == 0 else "completed",
            start_time=start + timedelta(minutes=n),
            end_time=start + timedelta(minutes=n, seconds=30),
            duration=30.0,
        )
        for n in range(count)
    )


def content_of(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_export_is_a_csv_download_with_bom_and_exact_header(viewer_client, make_log):
    make_log()
    response = viewer_client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r"attachment; filename=execution_logs_\d{8}_\d{6}\.csv", response["Content-Disposition"]
    )
    data = content_of(response)
    assert data.startswith(b"\xef\xbb\xbf" + EXACT_HEADER)
    assert HEADER == EXACT_HEADER.decode().strip().split(",")


def test_export_has_every_filtered_row_across_many_pages(viewer_client):
    many_logs(530)
    many_logs(40, app_name="other_app")
    query = "app_name=bulk_app&status=completed"
    total = viewer_client.get(f"/api/v1/logs?{query}&page_size=100").json()["total"]
    assert total > 100  # more than one page's worth
    rows = rows_of(content_of(viewer_client.get(f"{URL}?{query}")))
    assert rows[0] == HEADER
    assert len(rows) - 1 == total
    assert {row[2] for row in rows[1:]} == {"bulk_app"}
    assert {row[4] for row in rows[1:]} == {"completed"}


def test_export_follows_the_list_order(viewer_client):
    many_logs(5)
    listed = [
        item["id"] for item in viewer_client.get("/api/v1/logs?sort_by=start_time&order=asc").json()["items"]
    ]
    exported = [
        row[0] for row in rows_of(content_of(viewer_client.get(f"{URL}?sort_by=start_time&order=asc")))[1:]
    ]
    assert exported == listed


def test_export_cells_are_readable(viewer_client, make_log):
    log = make_log(
        text="跑了 日报: completed",
        app_name="日报",
        start_time=datetime(2026, 1, 21, 6, 30, tzinfo=UTC),
        duration=754.0,
        log_info=True,
    )
    row = rows_of(content_of(viewer_client.get(URL)))[1]
    record = dict(zip(HEADER, row, strict=True))
    assert record["id"] == str(log.pk)
    assert record["app_name"] == "日报"
    assert record["start_time"] == "2026-01-21T14:30:00+08:00"
    assert record["duration"] == "754.0"
    assert record["log_info"] == "true" and record["screenshot"] == "false"


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "\t=1"])
def test_formula_cells_are_neutralised(viewer_client, make_log, dangerous):
    make_log(text=dangerous, app_name=dangerous)
    row = rows_of(content_of(viewer_client.get(URL)))[1]
    record = dict(zip(HEADER, row, strict=True))
    assert record["text"] == "'" + dangerous
    assert record["app_name"] == "'" + dangerous


def test_harmless_cells_are_untouched():
    assert neutralise("Ran x: completed") == "Ran x: completed"
    assert neutralise("a=b") == "a=b"


def test_export_with_no_rows_is_just_the_header(viewer_client):
    assert content_of(viewer_client.get(URL)) == b"\xef\xbb\xbf" + EXACT_HEADER


def test_export_validates_like_the_list(viewer_client):
    response = viewer_client.get(f"{URL}?status=bogus")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_export_needs_authentication(anon_client):
    assert anon_client.get(URL).status_code == 401


def test_export_reads_rows_lazily(viewer_client):
    """Nothing is fetched until the body is consumed, so rows are streamed, not built up front."""
    many_logs(1200)
    response = viewer_client.get(URL)
    stream = iter(response.streaming_content)
    first = next(stream)
    assert first.startswith(b"\xef\xbb\xbf")
    second = next(stream)
    assert second.count(b"\r\n") == 500  # one batch, not the whole table
    response.close()  # ends the half-read query, which would otherwise pin an old read snapshot
