"""API.md §7: stored files — content types, caching validators, ranges, and no way out of the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

pytestmark = pytest.mark.django_db

LOG = ("第1步 完成\n" * 2000).encode()


@pytest.fixture
def stored_log() -> str:
    return default_storage.save("logs/bot_01/run.log", ContentFile(LOG))


def get(client, path: str, **headers):
    return client.get(f"/api/v1/resources/{path}", **headers)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_stored_file_is_served_with_type_and_validators(viewer_client, stored_log):
    response = get(viewer_client, stored_log)
    assert response.status_code == 200
    assert body_of(response) == LOG
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Length"] == str(len(LOG))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"].endswith("GMT")
    assert response["Content-Disposition"] == 'inline; filename="run.log"'
    assert "sandbox" in response["Content-Security-Policy"]


def test_images_get_their_content_type(viewer_client):
    name = default_storage.save("shots/1.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    assert get(viewer_client, name)["Content-Type"] == "image/png"


def test_matching_etag_answers_304(viewer_client, stored_log):
    etag = get(viewer_client, stored_log)["ETag"]
    response = get(viewer_client, stored_log, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag


def test_unmodified_since_answers_304(viewer_client, stored_log):
    last_modified = get(viewer_client, stored_log)["Last-Modified"]
    response = get(viewer_client, stored_log, HTTP_IF_MODIFIED_SINCE=last_modified)
    assert response.status_code == 304


def test_changed_file_gets_a_new_etag(viewer_client, stored_log):
    etag = get(viewer_client, stored_log)["ETag"]
    path = Path(default_storage.path(stored_log))
    path.write_bytes(LOG + b"more")
    os.utime(path, (1_800_000_000, 1_800_000_000))
    response = get(viewer_client, stored_log, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, len(LOG) - 1), ("bytes=-50", len(LOG) - 50, len(LOG) - 1),
     ("bytes=10-999999999", 10, len(LOG) - 1)],
)
def test_byte_ranges_answer_206(viewer_client, stored_log, header, start, end):
    response = get(viewer_client, stored_log, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body_of(response) == LOG[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(LOG)}"
    assert response["Content-Length"] == str(end - start + 1)


def test_range_past_the_end_is_416(viewer_client, stored_log):
    response = get(viewer_client, stored_log, HTTP_RANGE=f"bytes={len(LOG)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(LOG)}"
    assert response.json()["code"] == "RANGE_NOT_SATISFIABLE"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "lines=1-2", "bytes=9-3"])
def test_unsupported_ranges_are_ignored(viewer_client, stored_log, header):
    response = get(viewer_client, stored_log, HTTP_RANGE=header)
    assert response.status_code == 200
    assert body_of(response) == LOG


def test_stale_if_range_gets_the_whole_file(viewer_client, stored_log):
    response = get(viewer_client, stored_log, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert response.status_code == 200
    etag = response["ETag"]
    response = get(viewer_client, stored_log, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert response.status_code == 206


def test_missing_file_is_404(viewer_client):
    response = get(viewer_client, "logs/nothing.log")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_a_directory_is_not_a_file(viewer_client, stored_log):
    assert get(viewer_client, "logs/bot_01").status_code == 404


@pytest.fixture
def secret_outside(settings) -> Path:
    """A file next to (not inside) the media root that no request may reach."""
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    secret = media.parent / "secret.txt"
    secret.write_text("TOP SECRET")
    (media / "logs").mkdir(exist_ok=True)
    return secret


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "logs/../../secret.txt",
        "%2e%2e/secret.txt",
        "%2e%2e%2fsecret.txt",
        "logs/%2e%2e/%2e%2e/secret.txt",
        "%252e%252e%252fsecret.txt",
        "..%5csecret.txt",
        "logs%5c..%5c..%5csecret.txt",
        "%2fetc%2fpasswd",
        "/etc/passwd",
        "//etc/passwd",
        "C:/Windows/win.ini",
        "secret.txt%00.png",
        "./logs/x",
        "logs//x",
        "~/secret.txt",
    ],
)
def test_paths_escaping_the_root_never_serve_a_file(viewer_client, secret_outside, path):
    response = get(viewer_client, path)
    assert response.status_code in (400, 404), path
    assert b"TOP SECRET" not in (body_of(response) if response.streaming else response.content)


def test_symlink_out_of_the_root_is_refused(viewer_client, secret_outside, settings):
    os.symlink(secret_outside, Path(settings.MEDIA_ROOT) / "logs" / "link.txt")
    response = get(viewer_client, "logs/link.txt")
    assert response.status_code == 400


def test_reading_stored_files_needs_authentication(anon_client, stored_log):
    assert get(anon_client, stored_log).status_code == 401


def test_head_gives_the_headers(viewer_client, stored_log):
    response = viewer_client.head(f"/api/v1/resources/{stored_log}")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(LOG))
