"""Issue 13 items 1, 5 and 6: every value a robot sends is bounded before it is stored.

Numbers are finite and in range, `result_summary` is its documented keys plus a small set of
extras, strings fit their columns, links are http(s) URLs or stored-file paths. Each refusal is
a 400 whose message names the field, and nothing is written.
"""

from __future__ import annotations

import json

import pytest

from executionlogs.limits import MAX_DURATION_SECONDS, MAX_ITEM_COUNT, MAX_SUMMARY_EXTRA_KEYS
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook/execution-complete"
BASE = {
    "shadow_bot_account": "bot_01",
    "app_name": "daily_report",
    "status": "completed",
    "start_time": "2026-01-21T14:30:00+08:00",
    "end_time": "2026-01-21T14:42:34+08:00",
    "duration_seconds": 754,
    "result_summary": {"total_items": 123, "success_items": 120, "failed_items": 3, "error_message": None},
    "screenshot_url": "https://bucket.oss-cn-shenzhen.aliyuncs.com/shots/1.png",
    "log_url": "https://bucket.oss-cn-shenzhen.aliyuncs.com/logs/1.txt",
}


def post_raw(client, text: str):
    """The body as written, so NaN, Infinity and 1e400 reach the server as a robot sent them."""
    return client.generic("POST", URL, text, content_type="application/json")


def post(client, **fields):
    return post_raw(client, json.dumps({**BASE, **fields}, ensure_ascii=False))


def refused(response, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"].startswith(f"{field}:"), body["message"]
    assert not ExecutionLog.objects.exists()


# --- numbers (item 1) -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "1e400", "NaN", "Infinity", "-Infinity", "-1", '"NaN"', '"1e308"'])
def test_an_absurd_duration_is_refused_naming_the_field(robot_client, value):
    text = json.dumps(BASE).replace('"duration_seconds": 754', f'"duration_seconds": {value}')
    refused(post_raw(robot_client, text), "duration_seconds")


def test_a_duration_of_thirty_days_is_accepted_and_one_second_more_is_not(robot_client):
    assert post(robot_client, duration_seconds=MAX_DURATION_SECONDS).status_code == 200
    ExecutionLog.objects.all().delete()
    refused(post(robot_client, duration_seconds=MAX_DURATION_SECONDS + 1), "duration_seconds")


def test_times_more_than_thirty_days_apart_are_refused_when_no_duration_is_sent(robot_client):
    body = {**BASE, "end_time": "2026-03-21T14:30:00+08:00"}
    del body["duration_seconds"]
    refused(post_raw(robot_client, json.dumps(body)), "end_time")


@pytest.mark.parametrize("field", ["start_time", "end_time"])
@pytest.mark.parametrize(
    "value", ["0001-01-01 00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31 23:59:59"]
)
def test_times_out_of_any_sane_range_are_refused(robot_client, field, value):
    body = {**BASE, field: value}
    if field == "start_time":
        del body["end_time"]
    refused(post_raw(robot_client, json.dumps(body)), field)


@pytest.mark.parametrize("key", ["total_items", "success_items", "failed_items"])
@pytest.mark.parametrize("value", [-1, MAX_ITEM_COUNT + 1, 10**30, 1.5, "many"])
def test_item_counts_are_whole_numbers_in_range(robot_client, key, value):
    summary = {**BASE["result_summary"], key: value}
    refused(post(robot_client, result_summary=summary), f"result_summary.{key}")


@pytest.mark.parametrize("value", ["NaN", "1e400"])
def test_a_non_finite_number_anywhere_in_the_summary_is_refused(robot_client, value):
    text = json.dumps({**BASE, "result_summary": {"ratio": 0.5}}).replace("0.5", value)
    refused(post_raw(robot_client, text), "result_summary.ratio")


# --- result_summary (item 5) ----------------------------------------------------------------


def test_a_few_small_extras_are_kept(robot_client):
    summary = {**BASE["result_summary"], "shop": "店铺A", "pages": [1, 2, 3], "meta": {"retry": 1}}
    assert post(robot_client, result_summary=summary).status_code == 200
    assert ExecutionLog.objects.get().result_summary == summary


def test_too_many_extra_keys_are_refused(robot_client):
    summary = {f"k{n}": n for n in range(MAX_SUMMARY_EXTRA_KEYS + 1)}
    refused(post(robot_client, result_summary=summary), "result_summary")


def test_extras_over_sixteen_kilobytes_are_refused(robot_client):
    summary = {"notes": "x" * 10_000, "more": "y" * 7_000}
    refused(post(robot_client, result_summary=summary), "result_summary")


def test_extras_nested_deeper_than_a_few_levels_are_refused(robot_client):
    refused(post(robot_client, result_summary={"deep": {"a": {"b": {"c": {"d": 1}}}}}), "result_summary.deep")


def test_nul_characters_are_refused_where_postgresql_could_not_store_them(robot_client):
    refused(post(robot_client, result_summary={"note": "a\x00b"}), "result_summary.note")
    refused(post(robot_client, app_name="daily\x00report"), "app_name")


def test_unpaired_surrogates_are_refused_where_no_database_could_store_them(robot_client):
    text = json.dumps({**BASE, "result_summary": {"note": "\ud800"}})  # sent as the escape \ud800
    refused(post_raw(robot_client, text), "result_summary.note")


def test_an_error_message_over_ten_thousand_characters_is_refused(robot_client):
    summary = {**BASE["result_summary"], "error_message": "e" * 10_001}
    refused(post(robot_client, result_summary=summary), "result_summary.error_message")


@pytest.mark.parametrize(("field", "size"), [("shadow_bot_account", 101), ("app_name", 201), ("execution_id", 101)])
def test_strings_longer_than_their_column_are_refused(robot_client, field, size):
    refused(post(robot_client, **{field: "a" * size}), field)


# --- links (item 6) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.com/1.png",
        "//evil.example/1.png",
        "/etc/passwd",
        "../../secret.png",
        "C:\\shots\\1.png",
        "https:///no-host",
        "http://[broken/1.png",
    ],
)
@pytest.mark.parametrize("field", ["screenshot_url", "log_url"])
def test_links_that_are_not_http_or_stored_files_are_refused(robot_client, field, link):
    refused(post(robot_client, **{field: link}), field)


@pytest.mark.parametrize(
    "link",
    ["https://bucket.example.com/1.png", "http://10.0.0.5:9000/a.txt", "shots/1.png", "/api/v1/resources/shots/1.png"],
)
def test_http_urls_and_stored_file_paths_are_accepted(robot_client, link):
    assert post(robot_client, screenshot_url=link).status_code == 200


def test_a_dangerous_link_stored_earlier_is_served_as_null(robot_client, admin_client_api, make_log):
    log = make_log()
    ExecutionLog.objects.filter(pk=log.pk).update(screenshot_path="javascript:alert(1)", log_content="data:,x")
    item = admin_client_api.get(f"/api/v1/logs/{log.pk}").json()
    assert item["screenshot_path"] is None and item["log_content"] is None
    assert item["screenshot_url"] is None and item["log_url"] is None
    listed = admin_client_api.get("/api/v1/logs").json()["items"][0]
    assert listed["screenshot_path"] is None


def test_a_robot_local_path_stored_earlier_is_still_shown_as_text(admin_client_api, make_log):
    log = make_log()
    ExecutionLog.objects.filter(pk=log.pk).update(screenshot_path="C:\\shots\\1.png")
    item = admin_client_api.get(f"/api/v1/logs/{log.pk}").json()
    assert item["screenshot_path"] == "C:\\shots\\1.png" and item["screenshot_url"] is None


def test_a_repeat_delivery_never_echoes_a_dangerous_stored_link(robot_client):
    first = post(robot_client)
    ExecutionLog.objects.filter(pk=first.json()["log_id"]).update(screenshot_path="javascript:alert(1)")
    repeat = post(robot_client)
    assert repeat.status_code == 200 and repeat.json()["screenshot_url"] is None
