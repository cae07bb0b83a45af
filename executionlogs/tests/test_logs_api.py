"""API.md §3: the execution-log list (every filter, sort and order), detail and permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC instant in January 2026."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_log_object_has_the_contract_fields(viewer_client, make_log):
    log = make_log(
        screenshot=True,
        screenshot_path="https://bucket.oss-cn-shenzhen.aliyuncs.com/shots/1.png",
        log_info=True,
        log_content="https://bucket.oss-cn-shenzhen.aliyuncs.com/logs/1.txt",
    )
    item = viewer_client.get(URL).json()["items"][0]
    for key in (
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
        "screenshot_path",
        "log_content",
        "created_at",
        "screenshot_url",
        "log_url",
    ):
        assert key in item, key
    assert item["id"] == str(log.pk)
    assert item["screenshot_path"].endswith("/shots/1.png")
    assert item["duration"] == 60.0


def test_signed_urls_come_from_the_resources_signer(viewer_client, make_log, monkeypatch):
    from executionlogs import serializers

    monkeypatch.setattr(
        serializers, "signed_resource_url", lambda value, **kw: f"signed:{value}" if value else None
    )
    make_log(screenshot_path="shots/1.png", log_content=None)
    item = viewer_client.get(URL).json()["items"][0]
    assert item["screenshot_url"] == "signed:shots/1.png"
    assert item["log_url"] is None


def test_detail(viewer_client, make_log):
    log = make_log()
    response = viewer_client.get(f"{URL}/{log.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(log.pk)


def test_unknown_or_malformed_id_is_404_json(viewer_client):
    for path in (f"{URL}/00000000-0000-0000-0000-000000000000", f"{URL}/not-a-uuid"):
        response = viewer_client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


def test_logs_need_authentication(anon_client):
    assert anon_client.get(URL).status_code == 401


def test_logs_are_read_only(admin_client_api, make_log):
    log = make_log()
    assert admin_client_api.post(URL, {"app_name": "x"}, format="json").status_code == 405
    assert admin_client_api.delete(f"{URL}/{log.pk}").status_code == 405


def test_default_order_is_newest_start_first_and_paginated(viewer_client, make_log):
    logs = [make_log(start_time=at(1, hour)) for hour in range(5)]
    response = viewer_client.get(f"{URL}?page=2&page_size=2")
    data = response.json()
    assert data["total"] == 5 and data["total_pages"] == 3 and data["page"] == 2
    assert ids(response) == [str(logs[2].pk), str(logs[1].pk)]


def test_page_past_the_end_is_empty(viewer_client, make_log):
    make_log()
    data = viewer_client.get(f"{URL}?page=9").json()
    assert data["items"] == [] and data["total"] == 1


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("start_time", "asc", ["a", "b", "c"]),
        ("start_time", "desc", ["c", "b", "a"]),
        ("end_time", "desc", ["a", "c", "b"]),
        ("end_time", "asc", ["b", "c", "a"]),
        ("duration", "desc", ["a", "c", "b"]),
        ("duration", "asc", ["b", "c", "a"]),
        ("created_at", "asc", ["c", "a", "b"]),
        ("created_at", "desc", ["b", "a", "c"]),
        (None, "asc", ["a", "b", "c"]),
        ("duration", None, ["a", "c", "b"]),
    ],
)
def test_sort_by_and_order(viewer_client, make_log, sort_by, order, expected):
    # created in the order c, a, b; started a < b < c; durations a > c > b
    c = make_log(app_name="c", start_time=at(3, 0), duration=200.0)
    a = make_log(app_name="a", start_time=at(1, 0), duration=260000.0)  # ends on day 4
    b = make_log(app_name="b", start_time=at(2, 0), duration=10.0)
    names = {str(log.pk): log.app_name for log in (a, b, c)}
    query = "&".join(f"{key}={value}" for key, value in (("sort_by", sort_by), ("order", order)) if value)
    assert [names[i] for i in ids(viewer_client.get(f"{URL}?{query}"))] == expected


def test_logs_without_end_or_duration_sort_last(viewer_client, make_log):
    unfinished = make_log(start_time=at(5, 0))
    unfinished.end_time = unfinished.duration = None
    unfinished.save()
    done = make_log(start_time=at(1, 0))
    for order in ("asc", "desc"):
        assert ids(viewer_client.get(f"{URL}?sort_by=duration&order={order}"))[-1] == str(unfinished.pk)
        assert ids(viewer_client.get(f"{URL}?sort_by=end_time&order={order}"))[0] == str(done.pk)


@pytest.mark.parametrize(
    "query",
    [
        "sort_by=foo",
        "order=up",
        "status=running",
        "status=timeout",
        "start_date=yesterday",
        "end_date=2026-02-30",
        "start_date=2026-01-01T25:00",
        "page=0",
        "page_size=101",
    ],
)
def test_invalid_query_values_are_400(viewer_client, query):
    response = viewer_client.get(f"{URL}?{query}")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "VALIDATION_ERROR"
    assert data["message"].startswith(query.split("=")[0])


def test_status_filter(viewer_client, make_log):
    make_log(status="completed")
    failed = make_log(status="failed")
    assert ids(viewer_client.get(f"{URL}?status=failed")) == [str(failed.pk)]


@pytest.mark.parametrize("field", ["app_name", "shadow_bot_account", "host_ip"])
def test_exact_field_filters(viewer_client, make_log, field):
    values = {"app_name": "invoice_sync", "shadow_bot_account": "bot_77", "host_ip": "10.7.7.7"}
    wanted = make_log(**{field: values[field]})
    make_log()
    assert ids(viewer_client.get(f"{URL}?{field}={values[field]}")) == [str(wanted.pk)]


@pytest.mark.parametrize(
    ("term", "expected"),
    [("weekly", "app"), ("bot_99", "account"), ("10.9.", "host"), ("captcha", "text")],
)
def test_search_covers_text_app_account_and_host(viewer_client, make_log, term, expected):
    logs = {
        "app": make_log(app_name="weekly_sales"),
        "account": make_log(shadow_bot_account="bot_99"),
        "host": make_log(host_ip="10.9.0.1"),
        "text": make_log(text="Ran x: failed | error: captcha not solved"),
    }
    make_log()
    assert ids(viewer_client.get(f"{URL}?search={term}")) == [str(logs[expected].pk)]


def test_search_finds_a_log_by_id(viewer_client, make_log):
    wanted = make_log()
    make_log()
    assert ids(viewer_client.get(f"{URL}?search={wanted.pk}")) == [str(wanted.pk)]


def test_date_filters_with_dates_use_whole_days_in_the_server_zone(viewer_client, make_log, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    # 2026-01-20 in Shanghai runs from 2026-01-19T16:00Z to 2026-01-20T16:00Z.
    before = make_log(start_time=at(19, 15, 59))
    first = make_log(start_time=at(19, 16, 0))
    last = make_log(start_time=at(20, 15, 59))
    after = make_log(start_time=at(20, 16, 0))
    got = ids(viewer_client.get(f"{URL}?start_date=2026-01-20&end_date=2026-01-20&order=asc"))
    assert got == [str(first.pk), str(last.pk)]
    assert str(before.pk) not in got and str(after.pk) not in got


def test_bare_end_date_includes_the_whole_day(viewer_client, make_log):
    late = make_log(start_time=datetime(2026, 1, 20, 23, 59, 30, tzinfo=UTC) - timedelta(hours=8))
    next_day = make_log(start_time=at(20, 16, 0))
    got = ids(viewer_client.get(f"{URL}?end_date=2026-01-20"))
    assert got == [str(late.pk)]
    assert str(next_day.pk) not in got


def test_date_filters_accept_date_times(viewer_client, make_log):
    make_log(start_time=at(10, 9, 0))
    inside = make_log(start_time=at(10, 10, 30))
    make_log(start_time=at(10, 12, 0))
    query = "start_date=2026-01-10T10:00:00Z&end_date=2026-01-10T11:00:00%2B00:00"
    assert ids(viewer_client.get(f"{URL}?{query}")) == [str(inside.pk)]


def test_naive_date_times_are_read_in_the_server_zone(viewer_client, make_log):
    inside = make_log(start_time=at(10, 2, 30))  # 10:30 in Shanghai
    make_log(start_time=at(10, 4, 0))  # 12:00 in Shanghai
    assert ids(viewer_client.get(f"{URL}?start_date=2026-01-10 10:00:00&end_date=2026-01-10 11:00:00")) == [
        str(inside.pk)
    ]


def test_filters_combine(viewer_client, make_log):
    wanted = make_log(app_name="a", status="failed", start_time=at(5, 5))
    make_log(app_name="a", status="completed", start_time=at(5, 6))
    make_log(app_name="b", status="failed", start_time=at(5, 5))
    make_log(app_name="a", status="failed", start_time=at(1, 5))
    query = "app_name=a&status=failed&start_date=2026-01-03"
    response = viewer_client.get(f"{URL}?{query}")
    assert ids(response) == [str(wanted.pk)]
    assert response.json()["total"] == 1
