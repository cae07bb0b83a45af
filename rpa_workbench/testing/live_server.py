"""Run the real application under Daphne in a subprocess, against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database the tests are using, for a server in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = quote(db.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    if host.startswith("/"):
        return f"postgres://{credentials}/{db['NAME']}?host={quote(host)}" + (
            f"&port={db['PORT']}" if db.get("PORT") else ""
        )
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{db['NAME']}"


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_daphne(tmp_path: Path, extra_env: dict[str, str] | None = None, timeout: float = 30) -> LiveServer:
    """Start Daphne on a free port with the test database; wait until /health answers."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "RPA_VAR_DIR": str(tmp_path / "var"),
        "RPA_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        # A scheduler pass touches the shared test database; tests that want one ask for it.
        "RPA_EMBEDDED_SCHEDULER": "false",
        "RPA_EMBEDDED_ALERTS": "false",
    }
    env.update(extra_env or {})
    log_path = tmp_path / f"daphne_{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 — closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "rpa_workbench.serve", "-b", "127.0.0.1", "-p", str(port), "rpa_workbench.asgi:application"],
        cwd=BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Daphne exited early:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Daphne did not answer /health within {timeout}s:\n{server.log()}")
