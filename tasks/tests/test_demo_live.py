"""The demo as a new operator sees it (README "make demo"), live and accelerated: `seed_demo`,
Daphne with its embedded scheduler and dispatcher, and `simulate_robots` as the relay. Within the
run: a log whose screenshot (a picture of the app's window) and log text load through the
resource proxy, the queue demo's jobs running one after the other in priority order, an
automatic retry of the run that failed on purpose, and no false `robot_offline` alert (idle
robots send the idle heartbeat). Then the simulator restarts and the jobs it forgot end
`robot_restarted` at once."""

from __future__ import annotations

import struct
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

import conftest
from alerts.models import Alert
from executionlogs.models import ExecutionLog
from jobs.models import Job
from jobs.tests.conftest import build_job
from rpa_workbench.testing.live_server import free_port
from rpa_workbench.testing.simulator import start_simulator, stop_simulator
from rpa_workbench.testing.waiting import wait_for
from tasks.management.commands import seed_demo
from tasks.models import Task

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server_factory, tmp_path, monkeypatch):
    """seed_demo with its delays shortened, Daphne, and the simulator (restartable)."""
    monkeypatch.setattr(seed_demo, "QUEUE_DEMO_DELAY", 1)
    monkeypatch.setattr(seed_demo, "RETRY_DEMO_DELAY", 1)
    monkeypatch.setitem(seed_demo.DEMO_RETRIES, "retry_delay_seconds", 1)
    sim_port = free_port()
    server = live_server_factory(env={
        "RPA_RELAY_URL": f"http://127.0.0.1:{sim_port}/yingdao",
        "RPA_EMBEDDED_SCHEDULER": "true",
        "RPA_SCHEDULER_INTERVAL": "0.5",
        # Ten idle heartbeats (one a second) fit in it: a busy CI machine may delay a few.
        "RPA_PRESENCE_TIMEOUT": "10",
        "RPA_PROXY_ALLOWED_HOSTS": "127.0.0.1",  # as make demo sets it
    })
    args = ["--run-seconds", "1-1.5", "--heartbeat-seconds", "0.5", "--failure-rate", "0",
            "--idle-heartbeat-seconds", "1", "--fail-first", seed_demo.RETRY_DEMO_APP,
            "--files-dir", str(tmp_path / "simulator-files")]
    running = []

    def start_robots(*extra):
        running.append(start_simulator(tmp_path, sim_port, server.url, conftest.WEBHOOK_TOKEN, *args, *extra))

    def stop_robots():
        stop_simulator(*running.pop())

    start_robots()
    call_command("seed_demo")  # as make demo: the relay (the simulator) is up before the first start
    yield server, start_robots, stop_robots
    while running:
        stop_robots()


def test_the_demo_shows_a_screenshot_a_queue_a_retry_and_no_false_offline(demo, admin_user):
    server, _start, _stop = demo
    headers = {"Authorization": f"Bearer {AccessToken.for_user(admin_user)}"}

    # A log page's screenshot and log text, through the resource proxy's signed URLs.
    log = wait_for(lambda: ExecutionLog.objects.exclude(screenshot_path="").filter(status="completed").first(),
                   timeout=40, what=f"a completed log\n{server.log()}")
    shown = requests.get(f"{server.url}/api/v1/logs/{log.pk}", headers=headers, timeout=10).json()
    picture = requests.get(server.url + shown["screenshot_url"] if shown["screenshot_url"].startswith("/") else shown["screenshot_url"], timeout=10)
    assert picture.status_code == 200, picture.text[:300]
    assert picture.headers["Content-Type"] == "image/png" and struct.unpack(">II", picture.content[16:24]) == (960, 480)
    text = requests.get(server.url + shown["log_url"] if shown["log_url"].startswith("/") else shown["log_url"], timeout=10)
    assert text.status_code == 200 and log.app_name in text.text and "run ended: completed" in text.text

    # The queue demo: high, normal, low, each started after the one before it ended.
    def queue_done():
        jobs = list(Job.objects.filter(shadow_bot_account="demo_queue_bot", source="scheduler").order_by("started_at"))
        return jobs if len(jobs) == 3 and all(job.status == "completed" for job in jobs) else None

    jobs = wait_for(queue_done, timeout=40, what=f"the queue demo's three runs\n{server.log()}")
    assert [job.priority for job in jobs] == ["high", "normal", "low"]
    assert all(later.started_at >= earlier.finished_at for earlier, later in zip(jobs, jobs[1:], strict=False))

    # The run failed on purpose, and its automatic retry.
    retry = wait_for(lambda: Job.objects.filter(app_name=seed_demo.RETRY_DEMO_APP, source="retry", status="completed").first(),
                     timeout=40, what=f"a completed retry\n{server.log()}")
    assert (retry.attempt, retry.retry_of.status, retry.retry_of.reason) == (2, "failed", "robot_reported_failure")

    # Robots idle between runs stayed online: no offline alert, and no skipped schedule at the start.
    presence = requests.get(f"{server.url}/api/v1/accounts", params={"search": "demo_bot_03"}, headers=headers, timeout=10)
    assert presence.json()["items"][0]["presence"] in ("online", "busy")
    assert not Alert.objects.filter(event="robot_offline").exists()
    assert not Alert.objects.filter(event="schedule_skipped", task__account__shadow_bot_account="demo_queue_bot").exists()


def test_a_simulator_restart_ends_the_runs_it_forgot_at_once(demo):
    server, start_robots, stop_robots = demo
    stop_robots()
    # What a simulator killed mid-run leaves behind: a job still running on its robot.
    task = Task.objects.get(app_name="inventory_check")
    job = build_job(task, "running", started_at=timezone.now() - timedelta(minutes=1))
    start_robots()
    ended = wait_for(lambda: Job.objects.filter(pk=job.pk, reason="robot_restarted").first(), timeout=20,
                     what=f"job {job.pk} ended robot_restarted\n{server.log()}")
    assert ended.status == "failed"
    assert Job.objects.filter(retry_of=ended).exists()  # and it is retried
