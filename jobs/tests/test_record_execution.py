"""`jobs.reports.record_execution`: the workflow behind the execution-complete webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from executionlogs.models import ExecutionLog
from executionlogs.services import summarise
from jobs.reports import record_execution
from rpa_workbench.testing.threads import run_together

START = datetime(2026, 1, 21, 6, 30, tzinfo=UTC)


def record(**fields):
    kwargs = {
        "shadow_bot_account": "bot_01",
        "app_name": "daily_report",
        "status": "completed",
        "start_time": START,
    }
    kwargs.update(fields)
    return record_execution(**kwargs)


@pytest.mark.django_db
def test_returns_created_then_the_original():
    log, created = record()
    again, created_again = record(status="failed")
    assert created is True and created_again is False
    assert again.pk == log.pk and again.status == "completed"


@pytest.mark.django_db
def test_the_writes_happen_in_one_query_budget(make_account, make_task, django_assert_max_num_queries):
    """The hot path of the webhook stays bounded: match, insert, the job's transition (here the
    task was running without a job, so it is adopted first) with the task and account rows it
    moves, and the events, stored in the same transaction (savepoint and release here: the
    test's own transaction). Was 9 before jobs; the job adds its row, its events and the locks
    (18 at first, 19 with this adoption; now the transition re-uses the rows `lock_task` locked,
    and on SQLite, whose transactions hold the whole database, nothing is locked or read again),
    and the robot's contact (an online robot: one UPDATE)."""
    robot = make_account(shadow_bot_account="bot_01", presence_state="online", last_seen_at=timezone.now())
    make_task(account=robot, app_name="daily_report", status="running")
    with django_assert_max_num_queries(18 if connection.vendor == "sqlite" else 20):
        record()


@pytest.mark.django_db
def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        record(status="exploded")
    assert not ExecutionLog.objects.exists()


def test_summary_text():
    text = summarise(
        app_name="daily_report",
        robot_status="timeout",
        result_summary={"total_items": 10, "success_items": 7, "failed_items": 3, "error_message": "stuck"},
        account_known=False,
        task_known=False,
        shadow_bot_account="ghost",
    )
    assert text.startswith(
        "Ran daily_report: failed (robot reported a timeout) | total 10, ok 7, failed 3; error: stuck"
    )
    assert "unknown account ghost" in text


@pytest.mark.django_db
def test_account_match_without_host_prefers_running_then_latest_heartbeat_then_oldest(make_account):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    oldest = make_account(shadow_bot_account="dup", host_ip="10.0.0.1")
    make_account(shadow_bot_account="dup", host_ip="10.0.0.2")
    assert Account.objects.match_robot("dup") == oldest
    heard = make_account(shadow_bot_account="dup", host_ip="10.0.0.3", last_heartbeat_at=now)
    assert Account.objects.match_robot("dup") == heard
    running = make_account(
        shadow_bot_account="dup",
        host_ip="10.0.0.4",
        status="running",
        last_heartbeat_at=now - timedelta(days=1),
    )
    assert Account.objects.match_robot("dup") == running
    assert Account.objects.match_robot("dup", host_ip="10.0.0.2").host_ip == "10.0.0.2"
    assert Account.objects.match_robot("nobody") is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_records_of_one_execution_make_one_log():
    """Real threads, each with its own database connection."""
    results = run_together([record] * 6)
    assert len({log.pk for log, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert ExecutionLog.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({}, {"status": "failed"}),  # same account, app and start time
        (
            {"execution_id": "run-1"},
            {"execution_id": "run-1", "start_time": START + timedelta(hours=1)},
        ),
    ],
)
def test_the_database_itself_refuses_a_second_log_of_one_execution(make_log, first, second):
    """Idempotency is a unique constraint, not a check in Python that a race could slip past."""
    make_log(shadow_bot_account="bot_01", app_name="daily_report", start_time=START, **first)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_log(shadow_bot_account="bot_01", app_name="daily_report", **{"start_time": START, **second})
    assert ExecutionLog.objects.count() == 1


@pytest.mark.django_db
def test_logs_without_an_execution_id_do_not_collide_on_it(make_log):
    make_log(start_time=START, execution_id=None)
    make_log(start_time=START + timedelta(minutes=1), execution_id=None)
    assert ExecutionLog.objects.count() == 2
