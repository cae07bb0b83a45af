"""The robot simulator (`manage.py simulate_robots`) as a subprocess on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings

from rpa_workbench.testing.live_server import test_database_url


def start_simulator(tmp_path: Path, port: int, callback: str, token: str, *args: str) -> tuple[subprocess.Popen, object]:
    """Start it on `port`, calling back `callback` with webhook secret `token`; waits until it
    answers. Returns (process, log file); stop with `stop_simulator`."""
    log = open(tmp_path / "simulator.log", "wb")  # noqa: SIM115 — closed with the process
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "RPA_VAR_DIR": str(tmp_path / "var"),
        "RPA_WEBHOOK_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_robots", "--port", str(port), "--callback", callback, *args],
        cwd=Path(settings.BASE_DIR), env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((tmp_path / "simulator.log").read_text())
        try:
            requests.get(f"http://127.0.0.1:{port}/files/none", timeout=1)
            return process, log
        except requests.RequestException:
            time.sleep(0.2)
    stop_simulator(process, log)
    raise RuntimeError("simulator did not start")


def stop_simulator(process: subprocess.Popen, log) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
