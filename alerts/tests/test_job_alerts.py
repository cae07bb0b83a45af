"""Job outcomes: the `jobs.transitions.HOOKS` hook maps each job end to its alert — failed by
reason, run timeout, lost contact, dispatch failure, wait timeout — once per end.

The mapping is tested with the transition the hook receives (a stand-in job carrying real task
and account rows); the real timeouts of jobs/timeouts.py then prove the hook is wired in and
raises once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, Delivery
from alerts.sources import job_transition

pytestmark = pytest.mark.django_db


@dataclass
class StandInJob:
    task: object
    account: object
    reason: str | None
    pk: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class Transition:
    job: StandInJob
    old: str | None
    new: str
    reason: str | None


@pytest.mark.parametrize(
    ("old", "new", "reason", "event"),
    [
        ("running", "failed", "robot_reported_failure", "job_failed"),
        ("running", "failed", "robot_reported_timeout", "job_failed"),
        ("dispatched", "failed", "never_confirmed", "job_failed"),
        (None, "failed", "robot_reported_failure", "job_failed"),
        ("stopping", "failed", "run_timeout", "job_stopped_by_timeout"),
        ("running", "failed", "lost_contact", "robot_lost"),
        ("queued", "failed", "dispatch_failed", "dispatch_failed"),
        ("queued", "cancelled", "wait_timeout", "queue_wait_exceeded"),
    ],
)
def test_each_job_end_raises_its_alert(make_task, old, new, reason, event):
    task = make_task()
    job = StandInJob(task=task, account=task.account, reason=reason)
    job_transition(Transition(job, old, new, reason))
    alert = Alert.objects.get()
    assert (alert.event, alert.job_id, alert.task_id, alert.account_id) == (event, job.pk, task.pk, task.account_id)
    assert alert.context["reason"] == reason


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("running", "completed", None),
        ("queued", "cancelled", "cancelled"),
        ("running", "stopped", "force_stopped"),
        ("queued", "dispatched", None),
        ("failed", "failed", "lost_contact"),
    ],
)
def test_other_transitions_raise_nothing(make_task, old, new, reason):
    task = make_task()
    job_transition(Transition(StandInJob(task=task, account=task.account, reason=reason), old, new, reason))
    assert not Alert.objects.exists()


def test_a_job_alert_links_to_the_job_page(settings, make_task):
    settings.RPA_PUBLIC_URL = "https://rpa.example.com"
    task = make_task()
    job = StandInJob(task=task, account=task.account, reason="run_timeout")
    job_transition(Transition(job, "stopping", "failed", "run_timeout"))
    assert Alert.objects.get().message.endswith(f"https://rpa.example.com/admin/jobs/job/{job.pk}/change/")


def test_a_job_waiting_past_its_wait_timeout_alerts_once(make_task, make_channel):
    from jobs import timeouts
    from jobs.tests.conftest import build_job

    channel = make_channel(events=["queue_wait_exceeded"])
    start = timezone.now()
    job = build_job(make_task(), created_at=start, wait_timeout_seconds=600)
    timeouts.wait_timeouts(start + timedelta(seconds=601))
    timeouts.wait_timeouts(start + timedelta(hours=1))
    alert = Alert.objects.get()
    assert (alert.event, alert.job_id, alert.context["reason"]) == ("queue_wait_exceeded", job.pk, "wait_timeout")
    assert Delivery.objects.filter(channel=channel).count() == 1


def test_a_run_past_its_run_timeout_alerts_job_stopped_by_timeout_once(make_task, make_channel, fake_relay):
    from jobs import outbox, timeouts
    from jobs.tests.conftest import build_job

    make_channel()
    start = timezone.now()
    task = make_task(status="running")
    job = build_job(task, "running", started_at=start, run_timeout_seconds=60)
    timeouts.run_timeouts(start + timedelta(seconds=61))
    timeouts.run_timeouts(start + timedelta(seconds=120))
    # The sweep queues the stop; the job ends failed/run_timeout once the dispatcher has sent it.
    assert len(outbox.send_pending()) == 1
    assert outbox.send_pending() == []
    timeouts.run_timeouts(start + timedelta(seconds=180))
    alert = Alert.objects.get()
    assert (alert.event, alert.job_id, alert.task_id) == ("job_stopped_by_timeout", job.pk, task.pk)
