"""`/api/v1/logs/export?columns=extended`: the screenshot and log URLs after the fixed header;
the default header stays exactly API.md §3's."""

from __future__ import annotations

import csv
import io

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs/export"
FIXED = "id,text,app_name,shadow_bot_account,status,start_time,end_time,duration,host_ip,log_info,screenshot,created_at"


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def log(make_log):
    return make_log(screenshot_path="https://b.oss-cn-shenzhen.aliyuncs.com/s/1.png", log_content="logs/1.txt")


def test_default_header_is_unchanged(viewer_client, log):
    header, row = rows(viewer_client.get(URL))
    assert ",".join(header) == FIXED
    assert len(row) == len(header) and "https://b.oss-cn-shenzhen.aliyuncs.com/s/1.png" not in row


def test_extended_adds_the_screenshot_and_log_urls_after_the_fixed_header(viewer_client, log):
    header, row = rows(viewer_client.get(URL, {"columns": "extended"}))
    assert ",".join(header) == FIXED + ",screenshot_path,log_content,outputs"  # outputs: API.md §11
    assert row[0] == str(log.pk)
    assert row[-3:] == ["https://b.oss-cn-shenzhen.aliyuncs.com/s/1.png", "logs/1.txt", ""]  # no job, no outputs


def test_extended_keeps_the_filters(viewer_client, make_log, log):
    make_log(app_name="other_app")
    table = rows(viewer_client.get(URL, {"columns": "extended", "app_name": log.app_name}))
    assert [r[0] for r in table[1:]] == [str(log.pk)]


def test_unknown_columns_value_is_a_400(viewer_client, log):
    response = viewer_client.get(URL, {"columns": "everything"})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR" and response.json()["message"].startswith("columns:")
