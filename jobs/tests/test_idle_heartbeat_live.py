"""The idle heartbeat at the same moment as the robot's own report of that run, on two server
processes (PostgreSQL in CI: row locks decide): the job ends exactly once — completed by the
report or failed/robot_restarted by the heartbeat — never a 5xx, never both, never left running."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

import conftest
from accounts.models import Account
from jobs.models import Job
from jobs.tests.conftest import build_job

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROBOT = {"X-Webhook-Token": conftest.WEBHOOK_TOKEN}


def at_once(calls: list[tuple[str, dict]]) -> list[int]:
    """POST every (url, body) at the same moment; their status codes."""
    barrier = threading.Barrier(len(calls))
    answers: list[int] = []

    def call(url, body):
        barrier.wait()
        answers.append(requests.post(url, json=body, headers=ROBOT, timeout=20).status_code)

    threads = [threading.Thread(target=call, args=pair) for pair in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_an_idle_heartbeat_and_a_report_of_the_same_run_end_the_job_once(live_server_factory, make_account, make_task):
    first, second = live_server_factory(), live_server_factory()
    account = make_account(shadow_bot_account="bot_race", host_ip="10.9.0.1")
    task = make_task(account=account, app_name="race_app")
    outcomes = []
    for round_number in range(6):
        started = timezone.now() - timedelta(minutes=1)
        job = build_job(task, "running", started_at=started)
        report = {
            "shadow_bot_account": "bot_race", "app_name": "race_app", "status": "completed",
            "start_time": started.isoformat(), "end_time": timezone.now().isoformat(), "execution_id": str(job.pk),
        }
        calls = [
            (first.url + "/api/v1/webhook/heartbeat", {"shadow_bot_account": "bot_race"}),
            (second.url + "/api/v1/webhook/execution-complete", report),
        ]
        if round_number % 2:
            calls.reverse()
        answers = at_once(calls)
        assert answers == [200, 200], f"{answers}\n{first.log()}\n{second.log()}"
        job.refresh_from_db()
        assert (job.status, job.reason) in (("completed", None), ("failed", "robot_restarted"))
        assert job.execution_log_id is not None
        assert not Job.objects.filter(task=task, status__in=["running", "stopping"]).exists()
        assert Account.objects.get(pk=account.pk).status != "running"
        outcomes.append(job.status)
    assert len(outcomes) == 6
