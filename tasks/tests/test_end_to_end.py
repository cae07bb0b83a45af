"""The whole loop with real processes: Daphne (with its embedded scheduler), the robot simulator
as the relay (a `manage.py simulate_robots` subprocess), the webhooks, the SSE stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

import conftest
from executionlogs.models import ExecutionLog
from rpa_workbench.testing.live_server import free_port
from rpa_workbench.testing.simulator import start_simulator, stop_simulator
from rpa_workbench.testing.sse import open_stream, payloads
from rpa_workbench.testing.waiting import wait_for
from tasks.models import ControlRequest, ControlSource, Task, TaskStatus

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def robots(tmp_path):
    """Start the simulator once the server URL is known: `robots(port, callback)`."""
    processes = []

    def start(port: int, callback: str):
        args = ["--run-seconds", "1-1.5", "--heartbeat-seconds", "0.5", "--failure-rate", "0"]
        process, log = start_simulator(tmp_path, port, callback, conftest.WEBHOOK_TOKEN, *args)
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        stop_simulator(process, log)


def _system(live_server_factory, robots):
    sim_port = free_port()
    server = live_server_factory(env={
        "RPA_RELAY_URL": f"http://127.0.0.1:{sim_port}/yingdao",
        "RPA_EMBEDDED_SCHEDULER": "true",
        "RPA_SCHEDULER_INTERVAL": "0.5",
    })
    robots(sim_port, server.url)
    return server




def test_scheduled_start_runs_on_a_simulated_robot_and_comes_back(live_server_factory, robots, make_task, make_account):
    server = _system(live_server_factory, robots)
    account = make_account(host_ip="10.20.0.1", port=8100)
    task = make_task(account=account, trigger_time=timezone.now() - timedelta(seconds=1))

    log = wait_for(lambda: ExecutionLog.objects.filter(task=task).first(), timeout=30, what=f"execution log\n{server.log()}")

    assert log.status == "completed" and log.screenshot
    task.refresh_from_db()
    wait_for(lambda: Task.objects.get(pk=task.pk).status == TaskStatus.PENDING, timeout=30, what="task back to pending")
    assert task.trigger_time is None and task.last_run_time is not None
    request = ControlRequest.objects.get(task=task, source=ControlSource.SCHEDULER)
    assert request.outcome == "sent" and request.confirmed_at is not None


def test_api_start_is_seen_on_the_sse_stream(live_server_factory, robots, make_task, make_account, admin_user):
    server = _system(live_server_factory, robots)
    task = make_task(account=make_account(host_ip="10.20.0.2", port=8101))
    token = str(AccessToken.for_user(admin_user))
    events = open_stream(server.url, token)

    response = requests.post(
        f"{server.url}/api/v1/tasks/{task.pk}/start", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
    assert response.status_code == 200, response.text

    # First the robot's confirm (running); then its result: the log and the task back to pending,
    # published together after one commit (in either order).
    wanted: list[set[str]] = [{"running"}, {"log_created", "pending"}]
    for payload in payloads(events):
        data = payload.get("data", {})
        seen = None
        if payload.get("type") == "task_updated" and data.get("task_id") == str(task.pk):
            seen = data["changes"].get("status")
        elif payload.get("type") == "log_created" and data.get("app_name") == task.app_name:
            seen = "log_created"
        if seen in wanted[0]:
            wanted[0].discard(seen)
            if not wanted[0]:
                wanted.pop(0)
        if not wanted:
            break
    assert not wanted, f"never saw {wanted} on the stream\n{server.log()}"
