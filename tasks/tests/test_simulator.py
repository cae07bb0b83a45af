"""The robot simulator speaks the relay protocol and calls the webhooks like a robot would."""

from __future__ import annotations

import json
import time

import pytest
import requests

from rpa_workbench.testing.relay import start_fake_relay
from rpa_workbench.testing.servers import serve_in_background, stop
from tasks.simulator import RobotSimulator

TOKEN = "sim-secret"


class _Robots(dict):
    def get_address(self, ip: str, port: int) -> str | None:
        return self.get((ip, port))


ROBOTS = _Robots({("10.0.0.1", 8000): "bot_01", ("10.0.0.2", 8000): "bot_02"})


@pytest.fixture
def backend():
    """A local HTTP server recording the simulator's webhook calls."""
    recorder, server = start_fake_relay()
    recorder.url = recorder.url.removesuffix("/yingdao")
    yield recorder
    stop(server)


@pytest.fixture
def simulator(backend):
    sim = RobotSimulator(
        callback=backend.url, token=TOKEN, resolve=ROBOTS.get_address,
        run_seconds=(0.3, 0.4), heartbeat_seconds=0.1, confirm_delay=0.05, failure_rate=0.0, seed=1,
    )
    server = sim.serve()
    serve_in_background(server)
    yield sim
    stop(server)


def _control(sim, target, app="daily_report", ip="10.0.0.1", port=8000):
    params = {"backend_ip": ip, "backend_port": port, "tak": app, "target": target, "timestamp": int(time.time())}
    return requests.get(f"{sim.public_url}/yingdao", params=params, timeout=5)


def _calls(backend, path, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in backend.requests if r.path.endswith(path)]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} calls to {path}, got {[r.path for r in backend.requests]}")


def test_start_confirms_heartbeats_and_reports_a_result_with_files(simulator, backend):
    assert _control(simulator, "START").status_code == 200

    (confirm,) = _calls(backend, "/webhook/confirm", 1)
    (complete,) = _calls(backend, "/webhook/execution-complete", 1)
    assert json.loads(confirm.body)["action"] == "START"
    assert _calls(backend, "/webhook/heartbeat", 1)
    assert all(r.headers.get("X-Webhook-Token") == TOKEN for r in backend.requests)
    result = json.loads(complete.body)
    assert (result["shadow_bot_account"], result["app_name"], result["status"]) == ("bot_01", "daily_report", "completed")
    assert result["result_summary"]["total_items"] >= result["result_summary"]["success_items"]
    screenshot = requests.get(result["screenshot_url"], timeout=5)
    assert screenshot.status_code == 200 and screenshot.content.startswith(b"\x89PNG")
    assert "daily_report" in requests.get(result["log_url"], timeout=5).text


def test_stop_ends_the_run_and_confirms_stop_without_a_result(simulator, backend):
    simulator.run_seconds = (5, 5)
    _control(simulator, "START")
    _calls(backend, "/webhook/confirm", 1)
    assert _control(simulator, "ALL").status_code == 200

    confirms = _calls(backend, "/webhook/confirm", 2)
    assert json.loads(confirms[1].body)["action"] == "STOP"
    time.sleep(0.3)
    assert not [r for r in backend.requests if r.path.endswith("execution-complete")]


def test_unknown_robot_and_bad_requests_are_refused(simulator):
    assert _control(simulator, "START", ip="10.9.9.9").status_code == 404
    assert _control(simulator, "JUMP").status_code == 400


def test_failures_say_why(simulator):
    simulator.failure_rate = 1.0
    from tasks.simulator import Run

    result = simulator.result(Run("r1", "bot_01", "10.0.0.1", 8000, "app", __import__("datetime").datetime.now().astimezone()))
    assert result["status"] == "failed" and result["result_summary"]["error_message"]


def _bodies(backend, path):
    return [json.loads(r.body) for r in backend.requests if r.path.endswith(path)]


def test_a_robot_runs_one_app_at_a_time_and_refuses_a_start_for_another(simulator, backend):
    simulator.run_seconds = (0.6, 0.6)
    assert _control(simulator, "START", app="daily_report").status_code == 200

    busy = _control(simulator, "START", app="order_sync")

    assert busy.status_code == 409 and "busy running daily_report" in busy.json()["message"]
    assert simulator.refused == 1
    _calls(backend, "/webhook/execution-complete", 1)
    assert [b["app_name"] for b in _bodies(backend, "/webhook/confirm")] == ["daily_report"]
    # free again: the next app is accepted and runs
    assert _control(simulator, "START", app="order_sync").status_code == 200
    reports = _calls(backend, "/webhook/execution-complete", 2)
    assert json.loads(reports[1].body)["app_name"] == "order_sync"


def test_a_repeated_start_of_the_running_app_is_one_run(simulator, backend):
    assert _control(simulator, "START").status_code == 200
    assert _control(simulator, "START").status_code == 200

    _calls(backend, "/webhook/execution-complete", 1)
    time.sleep(0.2)
    assert len(_bodies(backend, "/webhook/confirm")) == 1 and simulator.refused == 0


def test_robots_are_independent(simulator, backend):
    assert _control(simulator, "START", app="daily_report").status_code == 200
    assert _control(simulator, "START", app="order_sync", ip="10.0.0.2").status_code == 200

    reports = _calls(backend, "/webhook/execution-complete", 2)
    assert {json.loads(r.body)["shadow_bot_account"] for r in reports} == {"bot_01", "bot_02"}


def test_stop_all_stops_the_current_app_confirms_it_and_frees_the_robot(simulator, backend):
    simulator.run_seconds = (5, 5)
    _control(simulator, "START", app="daily_report")
    _calls(backend, "/webhook/confirm", 1)

    assert _control(simulator, "ALL", app="order_sync").status_code == 200

    confirms = _calls(backend, "/webhook/confirm", 2)
    assert (json.loads(confirms[1].body)["action"], json.loads(confirms[1].body)["app_name"]) == ("STOP", "daily_report")
    assert _control(simulator, "START", app="order_sync").status_code == 200


def test_each_report_carries_its_own_execution_id(simulator, backend):
    _control(simulator, "START")
    _calls(backend, "/webhook/execution-complete", 1)
    _control(simulator, "START")

    first, second = (json.loads(r.body) for r in _calls(backend, "/webhook/execution-complete", 2))
    assert first["execution_id"] and first["execution_id"] != second["execution_id"]
