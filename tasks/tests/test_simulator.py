"""The robot simulator speaks the relay protocol and calls the webhooks like a robot would."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from rpa_workbench.testing.relay import start_fake_relay
from tasks.simulator import RobotSimulator

TOKEN = "sim-secret"


@pytest.fixture
def backend():
    """A local HTTP server recording the simulator's webhook calls."""
    recorder, server = start_fake_relay()
    recorder.url = recorder.url.removesuffix("/yingdao")
    yield recorder
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulator(backend):
    sim = RobotSimulator(
        callback=backend.url, token=TOKEN, resolve=lambda ip, port: "bot_01" if (ip, port) == ("10.0.0.1", 8000) else None,
        run_seconds=(0.3, 0.4), heartbeat_seconds=0.1, confirm_delay=0.05, failure_rate=0.0, seed=1,
    )
    server = sim.serve()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield sim
    server.shutdown()
    server.server_close()


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
