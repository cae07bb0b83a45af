"""The simulator's screenshots and logs look real and live on disk (they survive a restart), and
its idle robots send the idle heartbeat (at start and every interval)."""

from __future__ import annotations

import json
import struct
import threading

import pytest
import requests

from tasks.simulator import RobotSimulator
from tasks.simulator_idle import report_idle, start_idle_heartbeats
from tasks.tests import test_simulator

backend = test_simulator.backend  # the fixture recording the simulator's webhook calls
calls = test_simulator._calls

TOKEN = "sim-secret"
ROBOTS = {("10.0.0.1", 8000): "bot_01", ("10.0.0.2", 8000): "bot_02"}


def robot_list():
    return [(name, ip, port) for (ip, port), name in ROBOTS.items()]


def running_simulator(backend, files_dir, **options):
    options = {"run_seconds": (0.2, 0.3), "heartbeat_seconds": 0.1, "confirm_delay": 0.05, "seed": 3, **options}
    sim = RobotSimulator(
        callback=backend.url, token=TOKEN, resolve=lambda ip, port: ROBOTS.get((ip, port)), files_dir=str(files_dir),
        **options,
    )
    server = sim.serve()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sim, server


def start(sim, app="order_export"):
    params = {"backend_ip": "10.0.0.1", "backend_port": 8000, "tak": app, "target": "START", "timestamp": 1}
    assert requests.get(f"{sim.public_url}/yingdao", params=params, timeout=5).status_code == 200


def test_a_report_links_a_window_screenshot_and_a_log_that_survive_a_restart(backend, tmp_path):
    sim, server = running_simulator(backend, tmp_path, failure_rate=1.0)
    start(sim)
    (complete,) = calls(backend, "/webhook/execution-complete", 1)
    result = json.loads(complete.body)
    server.shutdown()
    server.server_close()

    again, server = running_simulator(backend, tmp_path)  # a restart: same directory, new port
    try:
        for url in (result["screenshot_url"], result["log_url"]):
            name = url.rsplit("/", 1)[1]
            answer = requests.get(f"{again.public_url}/files/{name}", timeout=5)
            assert answer.status_code == 200, url
            if name.endswith(".png"):
                png = answer.content
                assert answer.headers["Content-Type"] == "image/png" and png.startswith(b"\x89PNG")
                assert struct.unpack(">II", png[16:24]) == (960, 480)  # a window, not a swatch
                assert len(png) > 5_000
            else:
                text = answer.text
                assert answer.headers["Content-Type"].startswith("text/plain")
                assert "order_export" in text and "ERROR" in text and len(text.splitlines()) >= 8
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("name", ["../secret.txt", "x.png", "%2e%2e%2fsecret.txt", "0" * 32 + ".html"])
def test_only_the_files_it_made_are_served(backend, tmp_path, name):
    (tmp_path / "secret.txt").write_text("no")
    sim, server = running_simulator(backend, tmp_path / "files")
    try:
        answer = requests.get(f"{sim.public_url}/files/{name}", timeout=5)
        assert answer.status_code in (400, 404) and "no" not in answer.text.split()
    finally:
        server.shutdown()
        server.server_close()


def test_idle_robots_send_the_idle_heartbeat_and_a_busy_one_does_not(backend, tmp_path):
    sim, server = running_simulator(backend, tmp_path, run_seconds=(5, 5))
    try:
        start(sim, "daily_report")  # bot_01 busy
        assert report_idle(sim, robot_list) == ["bot_02"]
        beats = [json.loads(r.body) for r in calls(backend, "/webhook/heartbeat", 1)]
        assert {"shadow_bot_account": "bot_02", "host_ip": "10.0.0.2"} in beats
        assert all("app_name" not in beat for beat in beats if beat["shadow_bot_account"] == "bot_02")
    finally:
        server.shutdown()
        server.server_close()


def test_the_idle_heartbeats_start_at_once_and_repeat(backend, tmp_path):
    sim, server = running_simulator(backend, tmp_path)
    stop = start_idle_heartbeats(sim, robot_list, interval=0.2)
    try:
        beats = calls(backend, "/webhook/heartbeat", 6)
        assert {json.loads(b.body)["shadow_bot_account"] for b in beats} == {"bot_01", "bot_02"}
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_fail_first_fails_only_the_first_run_of_that_app(backend, tmp_path):
    sim, server = running_simulator(backend, tmp_path, failure_rate=0.0, fail_first=frozenset({"price_monitor"}))
    try:
        for count in (1, 2):
            start(sim, "price_monitor")
            calls(backend, "/webhook/execution-complete", count)
        results = [json.loads(r.body)["status"] for r in backend.requests if r.path.endswith("/execution-complete")]
        assert results == ["failed", "completed"]
    finally:
        server.shutdown()
        server.server_close()
