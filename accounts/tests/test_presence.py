"""Robot presence (API.md §1): derived from last_seen_at in one query; flips announced once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import presence
from accounts.models import Account, PresenceState
from rpa_workbench.testing.clock import Clock
from tasks.models import TaskStatus

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts"
HEARTBEAT = "/api/v1/webhook/heartbeat"


@pytest.fixture
def clock(monkeypatch, settings):
    settings.RPA_PRESENCE_TIMEOUT = 120
    fake = Clock()
    monkeypatch.setattr(presence, "clock", fake)
    return fake


@pytest.fixture
def robot(make_account):
    """A robot whose listener sends idle heartbeats: its silence means offline (see
    test_presence_idle.py for one that reports only while running)."""
    return make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000, idle_heartbeat_at=timezone.now())


def presence_of(client, account) -> str:
    return client.get(f"{ACCOUNTS}/{account.pk}").json()["presence"]


def heartbeat(robot_client, name="bot_01"):
    response = robot_client.post(HEARTBEAT, {"shadow_bot_account": name, "app_name": "daily_report"}, format="json")
    assert response.status_code == 200
    return response


# -- derived presence ------------------------------------------------------------------------
def test_a_robot_never_heard_from_is_unknown(viewer_client, robot, clock):
    body = viewer_client.get(f"{ACCOUNTS}/{robot.pk}").json()
    assert body["presence"] == "unknown" and body["last_seen_at"] is None


def test_a_heartbeat_makes_the_robot_online_and_stamps_last_seen(viewer_client, robot_client, robot, clock):
    heartbeat(robot_client)
    body = viewer_client.get(f"{ACCOUNTS}/{robot.pk}").json()
    assert body["presence"] == "online"
    assert body["last_seen_at"] is not None


def test_silent_past_the_timeout_is_offline_and_within_it_online(viewer_client, robot_client, robot, clock):
    heartbeat(robot_client)
    clock.advance(119)
    assert presence_of(viewer_client, robot) == "online"
    clock.advance(2)
    assert presence_of(viewer_client, robot) == "offline"


def test_the_timeout_is_configurable(viewer_client, robot_client, robot, clock, settings):
    settings.RPA_PRESENCE_TIMEOUT = 30
    heartbeat(robot_client)
    clock.advance(31)
    assert presence_of(viewer_client, robot) == "offline"


def make_busy(robot, make_task) -> None:
    """Something running on the robot: a running job with the jobs app, else a running task."""
    from django.apps import apps

    task = make_task(account=robot, app_name="daily_report", status=TaskStatus.RUNNING)
    if apps.is_installed("jobs"):
        from jobs.tests.conftest import build_job

        build_job(task, "running")


def test_online_with_a_running_task_is_busy(viewer_client, robot_client, robot, make_task, clock):
    make_busy(robot, make_task)
    heartbeat(robot_client)
    assert presence_of(viewer_client, robot) == "busy"
    clock.advance(121)
    assert presence_of(viewer_client, robot) == "offline"


def test_confirm_and_execution_report_are_contacts_too(robot_client, make_account, make_task, clock):
    confirmed = make_account(shadow_bot_account="bot_c", host_ip="10.0.0.1")
    make_task(account=confirmed, app_name="app_c")
    reported = make_account(shadow_bot_account="bot_r", host_ip="10.0.0.2")
    make_task(account=reported, app_name="app_r")
    robot_client.post(
        "/api/v1/webhook/confirm",
        {"shadow_bot_account": "bot_c", "app_name": "app_c", "action": "START"},
        format="json",
    )
    robot_client.post(
        "/api/v1/webhook/execution-complete",
        {
            "shadow_bot_account": "bot_r",
            "app_name": "app_r",
            "status": "completed",
            "start_time": "2026-01-21T14:30:00+08:00",
            "end_time": "2026-01-21T14:42:34+08:00",
            "duration_seconds": 754,
        },
        format="json",
    )
    for account in (confirmed, reported):
        account.refresh_from_db()
        assert account.last_seen_at == clock.now


def test_last_seen_never_moves_backwards(robot, clock):
    presence.record_contact(account_id=robot.pk)
    presence.record_contact(account_id=robot.pk, when=clock.now - timedelta(seconds=10))
    robot.refresh_from_db()
    assert robot.last_seen_at == clock.now


# -- the API -----------------------------------------------------------------------------------
def test_presence_filter(viewer_client, robot_client, make_account, clock):
    for n in (1, 2, 3):
        make_account(shadow_bot_account=f"bot_0{n}", host_ip=f"10.0.0.{n}", idle_heartbeat_at=timezone.now())
    heartbeat(robot_client, "bot_01")
    heartbeat(robot_client, "bot_02")
    clock.advance(200)
    heartbeat(robot_client, "bot_02")

    def names(value):
        items = viewer_client.get(ACCOUNTS, {"presence": value}).json()["items"]
        return sorted(item["shadow_bot_account"] for item in items)

    assert names("online") == ["bot_02"]
    assert names("offline") == ["bot_01"]
    assert names("unknown") == ["bot_03"]
    assert names("busy") == []


def test_unknown_presence_value_is_a_400(viewer_client, clock):
    response = viewer_client.get(ACCOUNTS, {"presence": "asleep"})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_presence_and_last_seen_are_read_only(operator_client, robot, clock):
    response = operator_client.patch(
        f"{ACCOUNTS}/{robot.pk}", {"presence": "online", "last_seen_at": "2026-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 200
    robot.refresh_from_db()
    assert robot.last_seen_at is None
    assert response.json()["presence"] == "unknown"


def test_an_edit_does_not_overwrite_a_contact_made_meanwhile(operator_client, robot, clock):
    stale = Account.objects.get(pk=robot.pk)
    presence.record_contact(account_id=robot.pk)
    from accounts import services

    services.update_account(stale, port=stale.port + 1)
    robot.refresh_from_db()
    assert robot.last_seen_at == clock.now and robot.port == stale.port + 1


def test_listing_derives_presence_in_one_query_whatever_the_number_of_robots(
    viewer_client, make_account, robot_client, clock, django_assert_max_num_queries
):
    make_account(shadow_bot_account="bot_01", host_ip="10.0.0.1")
    heartbeat(robot_client, "bot_01")
    with django_assert_max_num_queries(10) as one:
        viewer_client.get(ACCOUNTS)
    for index in range(2, 12):
        make_account(shadow_bot_account=f"bot_{index:02}", host_ip=f"10.0.0.{index}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        viewer_client.get(ACCOUNTS)


# -- flips: announced once each ----------------------------------------------------------------
def test_first_contact_flips_to_online_once(robot, clock, published_events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        flip = presence.record_contact(account_id=robot.pk)
        assert flip is not None and (flip.before, flip.after) == ("unknown", "online")
        assert presence.record_contact(account_id=robot.pk) is None
    robot.refresh_from_db()
    assert robot.presence_state == PresenceState.ONLINE
    presence_events = [d for t, d in published_events if t == "account_updated" and "presence" in d["changes"]]
    assert presence_events == [
        {"account_id": str(robot.pk), "shadow_bot_account": "bot_01", "changes": {"presence": "online"}}
    ]


def test_sweep_flips_a_silent_robot_offline_once_and_a_contact_brings_it_back(
    robot, clock, published_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        presence.record_contact(account_id=robot.pk)
        clock.advance(60)
        assert presence.sweep_presence() == []
        clock.advance(61)
        flips = presence.sweep_presence()
        assert [(f.account.pk, f.before, f.after) for f in flips] == [(robot.pk, "online", "offline")]
        clock.advance(300)
        assert presence.sweep_presence() == []
        back = presence.record_contact(account_id=robot.pk)
    assert (back.before, back.after) == ("offline", "online")
    changes = [d["changes"]["presence"] for t, d in published_events if "presence" in d.get("changes", {})]
    assert changes == ["online", "offline", "online"]


def test_coming_back_busy_is_announced_as_busy(robot, make_task, clock):
    make_busy(robot, make_task)
    flip = presence.record_contact(account_id=robot.pk)
    assert flip.after == "busy"


def test_a_sighting_older_than_the_timeout_stamps_history_but_flips_nothing(robot, clock):
    assert presence.record_contact(account_id=robot.pk, when=clock.now - timedelta(seconds=500)) is None
    robot.refresh_from_db()
    assert robot.presence_state == PresenceState.UNKNOWN and robot.last_seen_at is not None


def test_a_flip_is_a_compare_and_set(robot, clock):
    """Two sweepers (two processes) see the same silent robot: only one wins the flip."""
    presence.record_contact(account_id=robot.pk)
    clock.advance(121)
    silent = Account.objects.filter(presence_state=PresenceState.ONLINE)
    assert silent.filter(pk=robot.pk).update(presence_state=PresenceState.OFFLINE) == 1  # the other process
    assert presence.sweep_presence() == []


def test_with_jobs_a_robot_with_a_dispatched_job_is_busy(robot, make_task, clock):
    """Once the jobs app is installed, busy = online with a job dispatched, running or stopping."""
    from django.apps import apps

    if not apps.is_installed("jobs"):
        pytest.skip("the jobs app is not installed in this build")
    from jobs.models import Job, JobStatus
    from jobs.tests.conftest import build_job

    presence.record_contact(account_id=robot.pk)
    job = build_job(make_task(account=robot), JobStatus.DISPATCHED)
    assert presence.with_presence(Account.objects.filter(pk=robot.pk)).get().presence == "busy"
    Job.objects.filter(pk=job.pk).update(status=JobStatus.COMPLETED)
    assert presence.with_presence(Account.objects.filter(pk=robot.pk)).get().presence == "online"
