"""Reading Yingdao's callbacks: both shapes, both time formats, the status mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yingdao.callbacks import CallbackError, parse_callback, parse_time, summarise_outputs

JOB_BODY = {
    "dataType": "job",
    "jobUuid": "J-1",
    "robotName": "导出淘宝订单",
    "robotClientName": "bot@corp",
    "status": "finish",
    "startTime": "2021-02-03 11:11:11",
    "endTime": "2021-02-03 12:12:12",
}


def test_a_job_callback_reads_times_in_the_robots_time_zone(settings):
    settings.RPA_ROBOT_TIMEZONE = "Asia/Shanghai"
    [report] = parse_callback(JOB_BODY)
    assert report.job_uuid == "J-1"
    assert report.status == "completed" and report.is_final
    assert report.start_time == datetime(2021, 2, 3, 3, 11, 11, tzinfo=UTC)
    assert report.end_time == datetime(2021, 2, 3, 4, 12, 12, tzinfo=UTC)
    assert report.robot_client_name == "bot@corp"


def test_some_versions_send_job_status_instead_of_status():
    body = {**JOB_BODY, "jobStatus": "running"}
    del body["status"]
    [report] = parse_callback(body)
    assert (report.raw_status, report.status) == ("running", "running")


def test_a_task_callback_reports_each_job_of_its_list_with_epoch_milliseconds():
    body = {
        "dataType": "task",
        "taskUuid": "T-1",
        "status": "finish",
        "startTime": 1642837962000,
        "endTime": 1642838022000,
        "jobList": [
            {"jobUuid": "J-1", "robotName": "a", "status": "finish", "startTime": 1642837962000, "endTime": 1642837990000},
            {"jobUuid": "J-2", "robotName": "b", "status": "error", "startTime": "1642837990000", "endTime": None},
        ],
    }
    first, second = parse_callback(body)
    assert (first.job_uuid, first.status) == ("J-1", "completed")
    assert first.start_time == datetime.fromtimestamp(1642837962, tz=UTC)
    assert (second.job_uuid, second.status, second.end_time) == ("J-2", "failed", None)
    assert second.start_time == datetime.fromtimestamp(1642837990, tz=UTC)


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        ("created", "dispatched"),
        ("waiting", "dispatched"),
        ("running", "running"),
        ("finish", "completed"),
        ("error", "failed"),
        ("stopped", "stopped"),
        ("stopping", None),
        ("something_new", None),
    ],
)
def test_status_mapping_keeps_unknown_values_raw(raw, mapped):
    [report] = parse_callback({**JOB_BODY, "status": raw})
    assert report.status == mapped
    assert report.raw_status == raw


@pytest.mark.parametrize(
    "body",
    [[], {"dataType": "job"}, {"dataType": "weird", "jobUuid": "x"}, {**JOB_BODY, "startTime": "yesterday"}],
)
def test_unreadable_bodies_are_refused_naming_the_problem(body):
    with pytest.raises(CallbackError):
        parse_callback(body)


def test_iso_times_with_an_offset_are_read_as_they_are():
    assert parse_time("2026-01-21T14:30:00+08:00") == datetime(2026, 1, 21, 6, 30, tzinfo=UTC)


def test_output_params_become_the_result_summary():
    outputs = [{"name": "total_items", "value": 3, "type": "int"}, {"name": "note", "value": "ok"}]
    assert summarise_outputs(outputs) == {"total_items": 3, "note": "ok"}
    assert summarise_outputs([]) is None
