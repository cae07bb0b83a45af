"""The per-robot queue with real processes (issue 14): Daphne with its embedded dispatcher, the
robot simulator as the relay (`manage.py simulate_robots`, one app at a time per robot), the
webhooks and the SSE stream.

While the robot runs one task, three more are started at once (low first, high last): they run
one after another, high, normal, low. A fourth, stopped while still queued, is cancelled and
never reaches the robot. Every step is a `job_updated` event; `task_updated` goes on as the SPA
reads it (running, then pending).
"""

from __future__ import annotations

import queue
import time

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

import conftest
from jobs.models import FINAL, Job, JobReason, JobStatus
from rpa_workbench.testing.live_server import free_port
from rpa_workbench.testing.simulator import start_simulator, stop_simulator
from rpa_workbench.testing.sse import open_stream
from rpa_workbench.testing.waiting import wait_for
from tasks.models import ControlAction, ControlRequest

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Long enough that the four starts and the stop land while the first run is still going.
RUN_SECONDS = "3-3.5"


@pytest.fixture
def system(live_server_factory, tmp_path):
    sim_port = free_port()
    server = live_server_factory(env={
        "RPA_RELAY_URL": f"http://127.0.0.1:{sim_port}/yingdao",
        "RPA_EMBEDDED_DISPATCHER": "true",
        "RPA_DISPATCHER_INTERVAL": "0.5",
    })
    args = ["--run-seconds", RUN_SECONDS, "--heartbeat-seconds", "30", "--failure-rate", "0"]
    process, log = start_simulator(tmp_path, sim_port, server.url, conftest.WEBHOOK_TOKEN, *args)
    yield server
    stop_simulator(process, log)




def _drain(events: queue.Queue, limit: float = 10.0) -> list[dict]:
    """Everything on the stream until it has been quiet for a second (at most `limit` s)."""
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            kind, payload = events.get(timeout=1)
        except queue.Empty:
            return seen
        if kind == "data":
            seen.append(payload)
    return seen


def test_three_starts_on_a_busy_robot_run_one_by_one_in_priority_order(system, make_account, make_task, admin_user):
    account = make_account(host_ip="10.30.0.1", port=8200)
    first = make_task(account=account, app_name="first_app", task_name="First")
    low = make_task(account=account, app_name="low_app", task_name="Low", priority="low")
    normal = make_task(account=account, app_name="normal_app", task_name="Normal", priority="normal")
    high = make_task(account=account, app_name="high_app", task_name="High", priority="high")
    dropped = make_task(account=account, app_name="dropped_app", task_name="Dropped", priority="high")
    token = str(AccessToken.for_user(admin_user))
    auth = {"Authorization": f"Bearer {token}"}
    events = open_stream(system.url, token)

    def post(task, action):
        response = requests.post(f"{system.url}/api/v1/tasks/{task.pk}/{action}", headers=auth, timeout=15)
        assert response.status_code == 200, response.text
        return response.json()

    assert post(first, "start")["job_status"] == "dispatched"
    answers = {task.app_name: post(task, "start") for task in (low, normal, high, dropped)}
    assert {a["job_status"] for a in answers.values()} == {"queued"}, answers
    post(dropped, "stop")  # still queued: cancelled, nothing sent

    ordered = [first, high, normal, low]
    jobs = wait_for(
        lambda: (found := list(Job.objects.filter(task__in=ordered, status__in=FINAL))) and len(found) == 4 and found,
        timeout=60,
        what=f"four jobs ended\n{system.log()}",
    )
    jobs = sorted(jobs, key=lambda job: job.dispatched_at)
    assert [job.task_id for job in jobs] == [task.pk for task in ordered]
    assert all(job.status == JobStatus.COMPLETED for job in jobs)
    for previous, following in zip(jobs, jobs[1:], strict=False):
        assert following.dispatched_at >= previous.finished_at  # one at a time
    cancelled = Job.objects.get(task=dropped)
    assert (cancelled.status, cancelled.reason) == (JobStatus.CANCELLED, JobReason.CANCELLED)
    assert not ControlRequest.objects.filter(task=dropped, action=ControlAction.START).exists()

    seen = _drain(events)
    steps: dict[str, list[str]] = {}
    task_statuses: dict[str, list[str]] = {}
    for payload in seen:
        data = payload.get("data", {})
        if payload.get("type") == "job_updated" and "status" in data.get("changes", {}):
            steps.setdefault(data["job_id"], []).append(data["changes"]["status"])
        if payload.get("type") == "task_updated" and "status" in data.get("changes", {}):
            task_statuses.setdefault(data["task_id"], []).append(data["changes"]["status"])
    for job in jobs[1:]:
        assert steps.get(str(job.pk)) == ["queued", "dispatched", "running", "completed"], (job.app_name, steps)
    assert steps.get(str(jobs[0].pk))[-2:] == ["running", "completed"]
    assert steps.get(str(cancelled.pk)) == ["queued", "cancelled"]
    for task in ordered:
        assert task_statuses.get(str(task.pk)) == ["running", "pending"], (task.app_name, task_statuses)
