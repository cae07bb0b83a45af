"""A log's admin page: the screenshot inline and the log text, both through signed URLs."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

pytestmark = pytest.mark.django_db

LOG_PAGE = "/admin/executionlogs/executionlog/{}/change/"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def attribute(page: str, pattern: str) -> str:
    match = re.search(pattern, page)
    assert match, f"{pattern} not on the page"
    return html.unescape(match.group(1))


def test_log_page_shows_the_screenshot_and_the_log_through_signed_urls(root, anon_client, make_log):
    default_storage.save("shots/run1.png", ContentFile(b"\x89PNG fake"))
    default_storage.save("logs/run1.txt", ContentFile("第一行 first line\n".encode()))
    log = make_log(screenshot=True, log_info=True, screenshot_path="shots/run1.png", log_content="logs/run1.txt")

    page = root.get(LOG_PAGE.format(log.pk)).content.decode()

    image = attribute(page, r'<img src="([^"]+)"')
    text = attribute(page, r'data-log-src="([^"]+)"')
    assert "sig=" in image and "sig=" in text
    assert 'data-max-bytes="65536"' in page
    assert "Open the screenshot" in page and "Open the log" in page and "Download" in page
    # The signed URLs work without credentials (an <img> and the page's fetch send none).
    assert body_of(anon_client.get(image)) == b"\x89PNG fake"
    assert body_of(anon_client.get(text)).decode() == "第一行 first line\n"


def test_log_without_screenshot_or_log_says_none(root, make_log):
    log = make_log(screenshot=False, log_info=False, screenshot_path=None, log_content=None)
    page = root.get(LOG_PAGE.format(log.pk)).content.decode()
    assert "log-screenshot" not in page
    assert "data-log-src" not in page


def test_a_cloud_object_on_a_host_the_proxy_refuses_is_named_not_fetched(root, make_log, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["*.aliyuncs.com"]
    log = make_log(screenshot_path="https://evil.example/shot.png", log_content="https://b.oss.aliyuncs.com/l.txt")
    page = root.get(LOG_PAGE.format(log.pk)).content.decode()
    assert "not viewable here (host not allowed): https://evil.example/shot.png" in page
    assert attribute(page, r'data-log-src="([^"]+)"').startswith("/api/v1/resources/proxy?url=")


def test_log_list_shows_durations_with_their_unit_and_status_badges(root, make_log):
    make_log(duration=754, status="failed")
    page = root.get("/admin/executionlogs/executionlog/").content.decode()
    assert "12m 34s" in page
    assert 'class="badge badge-failed"' in page
