"""Issue 13 items 4 and 9: cron schedules across daylight saving time, and schedules that
validate but never run.

The scheduler runs on a controllable clock (`run_once(now=...)`): one pass every five minutes
through the night of each change, the robot finishing each run before the next pass.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from jobs import scheduler
from tasks.models import Task, TaskStatus
from tasks.schedules import ScheduleError, next_run_after, validate_schedule
from tasks.tests.test_admin import TASKS_URL, task_form, with_empty_inline

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEVER = "0 0 30 2 *"  # 30 February: valid fields, no date


def local(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=BERLIN, fold=fold)


def starts(relay) -> list[dict[str, str]]:
    return [query for query in relay.queries if query.get("target") == "START"]


def run_the_night(task: Task, relay, first_pass: datetime, hours: int = 6) -> list[datetime]:
    """A pass every 5 minutes for `hours`; returns the (UTC) pass times at which a START went out."""
    fired = []
    now = first_pass.astimezone(UTC)
    for _ in range(hours * 12):
        before = len(starts(relay))
        scheduler.run_once(now=now)
        if len(starts(relay)) > before:
            fired.append(now)
        # The robot ran and finished: the task is free again for the next slot.
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.PENDING, start_requested_at=None)
        now += timedelta(minutes=5)
    return fired


# --- next_run_after -------------------------------------------------------------------------


def test_a_repeated_autumn_wall_time_is_a_slot_once():
    first = next_run_after("30 2 * * *", "Europe/Berlin", local(2026, 10, 25, 0, 0))
    assert first == local(2026, 10, 25, 2, 30) and first.utcoffset() == timedelta(hours=2)
    assert next_run_after("30 2 * * *", "Europe/Berlin", first) == local(2026, 10, 26, 2, 30)


def test_after_the_clocks_went_back_the_repeat_of_a_slot_is_skipped():
    during_repeat = local(2026, 10, 25, 2, 10, fold=1)  # 02:10 CET, the second time round
    assert next_run_after("30 2 * * *", "Europe/Berlin", during_repeat) == local(2026, 10, 26, 2, 30)


def test_an_hourly_schedule_keeps_running_in_real_time_through_the_repeated_hour():
    slot, slots = local(2026, 10, 25, 1, 50), []
    for _ in range(4):
        slot = next_run_after("0,30 * * * *", "Europe/Berlin", slot)
        slots.append(slot.astimezone(UTC).strftime("%H:%M"))
    assert slots == ["00:00", "00:30", "01:00", "01:30"]  # 02:00 and 02:30 CEST, then CET


def test_a_skipped_spring_slot_runs_at_the_end_of_the_gap():
    slot = next_run_after("30 2 * * *", "Europe/Berlin", local(2026, 3, 29, 0, 0))
    assert slot == local(2026, 3, 29, 3, 0) and slot.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert next_run_after("30 2 * * *", "Europe/Berlin", slot) == local(2026, 3, 30, 2, 30)


# --- the scheduler over the night of each change ---------------------------------------------


@pytest.mark.django_db
def test_a_task_at_0230_berlin_starts_once_on_the_autumn_night(make_task, fake_relay):
    task = make_task(schedule="30 2 * * *", schedule_timezone="Europe/Berlin")
    fired = run_the_night(task, fake_relay, local(2026, 10, 25, 0, 0))
    assert fired == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # 02:30 CEST, not again at 02:30 CET
    task.refresh_from_db()
    assert task.next_run_at == local(2026, 10, 26, 2, 30)


@pytest.mark.django_db
def test_a_task_at_0230_berlin_starts_once_at_0300_on_the_spring_night(make_task, fake_relay):
    task = make_task(schedule="30 2 * * *", schedule_timezone="Europe/Berlin")
    fired = run_the_night(task, fake_relay, local(2026, 3, 29, 0, 0))
    assert fired == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]  # 03:00 CEST, the end of the gap
    task.refresh_from_db()
    assert task.next_run_at == local(2026, 3, 30, 2, 30)


# --- schedules with no next run (item 4) -----------------------------------------------------


def test_a_schedule_with_no_date_is_refused_by_the_shared_validation():
    with pytest.raises(ScheduleError) as refused:
        validate_schedule(NEVER, "UTC")
    assert refused.value.field == "schedule" and "never" in refused.value.message


@pytest.mark.django_db
def test_the_task_api_refuses_a_schedule_with_no_next_run(operator_client, make_account, make_task):
    account = make_account()
    body = {"task_name": "Never", "app_name": "never", "account_id": str(account.pk), "schedule": NEVER}
    created = operator_client.post("/api/v1/tasks", body, format="json")
    assert created.status_code == 400 and created.json()["message"].startswith("schedule:")
    task = make_task(account=account)
    changed = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"schedule": NEVER}, format="json")
    assert changed.status_code == 400 and changed.json()["message"].startswith("schedule:")
    assert Task.objects.get(pk=task.pk).schedule == ""


@pytest.mark.django_db
def test_the_admin_form_refuses_a_schedule_with_no_next_run(client, admin_user, make_account):
    client.force_login(admin_user)
    account = make_account()
    response = client.post(f"{TASKS_URL}add/", with_empty_inline(task_form(account, schedule=NEVER)))
    assert response.status_code == 200  # the form again, with the error
    assert "never matches a date" in response.content.decode()
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_the_scheduler_passes_over_a_stored_schedule_with_no_next_run(make_task, fake_relay, caplog):
    broken = make_task(schedule="0 9 * * *", schedule_timezone="UTC")
    Task.objects.filter(pk=broken.pk).update(schedule=NEVER, next_run_at=None)
    healthy = make_task(schedule="*/5 * * * *", schedule_timezone="UTC", next_run_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))

    with caplog.at_level(logging.WARNING, logger="jobs.scheduler"):
        summary = scheduler.run_once(now=datetime(2026, 3, 2, 10, 1, tzinfo=UTC))

    assert summary.started == [str(healthy.pk)]
    assert Task.objects.get(pk=broken.pk).next_run_at is None
    warnings = [record for record in caplog.records if str(broken.pk) in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None
