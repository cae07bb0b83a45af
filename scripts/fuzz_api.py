"""Fuzz the live API with schemathesis against its own OpenAPI document (docs/api-schema.md).

A fresh SQLite database in a temporary directory, an admin and one account and task, Daphne on a
free port, then `schemathesis run` for a bounded time with the admin's JWT and the webhook
secret. The exit status is schemathesis's: any server error, any response outside the document
(status or body) fails the run. No outside network: the relay is
a local fake that accepts every request, the proxy unconfigured (403 PROXY_DISABLED), and any
other outbound request goes to a closed local port (HTTP(S)_PROXY).

    python scripts/fuzz_api.py [--seconds 100] [--schemathesis PATH] [-- extra schemathesis args]
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

logger = logging.getLogger("fuzz_api")
ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "schemathesis.toml"
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
# The event stream never ends: a fuzzer waiting for its body would only time out.
EXCLUDED_PATHS = ["/api/v1/sse/events"]
ADMIN = "fuzz-admin"
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


class FakeRelay(http.server.BaseHTTPRequestHandler):
    """The relay's part (API.md §2): any GET is a delivered control request; any POST (an alert
    channel's webhook) is accepted too."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"ok": true, "errcode": 0, "code": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, format: str, *args) -> None:
        """Quiet: the server's own control-request audit records every call."""


def start_fake_relay() -> http.server.ThreadingHTTPServer:
    relay = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRelay)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    return relay


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def wait_until_healthy(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"daphne exited with {server.returncode}")
        try:
            call(base, "GET", "/health")
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    raise RuntimeError("daphne did not become healthy")


def upload_config(base: str, token: str) -> str:
    """Store a config file for the seeded task; its path, for the stored-file operation. Plain
    text: a byte range of a JSON file is no JSON, which schemathesis would try to parse."""
    boundary = secrets.token_hex(16)
    fields = {"shadow_bot_account": "fuzz_bot", "app_name": "fuzz_app"}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="fuzz.txt"\r\n'
        f'Content-Type: text/plain\r\n\r\nshop=A\n{"x" * 2000}\r\n--{boundary}--\r\n'
    )
    request = urllib.request.Request(
        base + "/api/v1/resources/upload/config",
        data="".join(parts).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["config_file_path"]


def seed(base: str, password: str, webhook_token: str, sink_url: str) -> tuple[str, str]:
    """The admin's access JWT and a stored file's path, after creating through the API one
    account, its task and its config file, one execution log (reported by the "robot") and one
    alert channel posting to the local sink."""
    token = call(base, "POST", "/api/v1/auth/token", {"username": ADMIN, "password": password})["access"]
    account = {"shadow_bot_account": "fuzz_bot", "host_ip": "192.0.2.10", "port": 8000}
    call(base, "POST", "/api/v1/accounts", account, token)
    task = {"task_name": "Fuzz task", "app_name": "fuzz_app", "shadow_bot_account": "fuzz_bot", "host_ip": "192.0.2.10"}
    call(base, "POST", "/api/v1/tasks", task, token)
    report = {
        "shadow_bot_account": "fuzz_bot",
        "app_name": "fuzz_app",
        "status": "completed",
        "start_time": "2026-01-21T14:30:00+08:00",
        "end_time": "2026-01-21T14:42:34+08:00",
        "duration_seconds": 754,
    }
    robot = urllib.request.Request(
        base + "/api/v1/webhook/execution-complete",
        data=json.dumps(report).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Webhook-Token": webhook_token},
    )
    urllib.request.urlopen(robot, timeout=10).close()
    channel = {"name": "fuzz sink", "kind": "webhook", "target": sink_url, "events": ["job_failed"]}
    call(base, "POST", "/api/v1/alerts/channels", channel, token)
    return token, upload_config(base, token)


def without_proxies(environ) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key.lower() not in PROXY_VARIABLES}


def server_env(workdir: Path, webhook_token: str, password: str, relay_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in without_proxies(os.environ).items()
        if not key.startswith(("RPA_", "DATABASE_URL", "DJANGO_", "EVENTSTREAM_"))
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'fuzz.sqlite3'}",
            "RPA_VAR_DIR": str(workdir / "var"),
            "RPA_WEBHOOK_TOKEN": webhook_token,
            "RPA_RELAY_URL": relay_url,
            # The seeded alert channel posts to the local fake relay: an on-premises receiver.
            "RPA_ALERT_ALLOWED_INTERNAL_HOSTS": "127.0.0.1",
            "DJANGO_SUPERUSER_USERNAME": ADMIN,
            "DJANGO_SUPERUSER_PASSWORD": password,
            "DJANGO_DEBUG": "0",
            # Nothing leaves the machine: every outbound HTTP(S) request the fuzzer causes (an
            # alert channel with a random target) goes to a closed local port, and mail is kept
            # in memory. Only the local fake relay is reached directly.
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            "RPA_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
    )
    return env


def run(seconds: int, schemathesis: str, extra: list[str]) -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="rpa-fuzz-") as tmp:
        workdir = Path(tmp)
        webhook_token, password = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        relay = start_fake_relay()
        relay_base = f"http://127.0.0.1:{relay.server_address[1]}"
        env = server_env(workdir, webhook_token, password, f"{relay_base}/yingdao")
        manage = [python, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
        subprocess.run([*manage, "ensure_admin"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = workdir / "daphne.log"
        with log_path.open("wb") as log:
            daphne = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "rpa_workbench.asgi:application"]
            server = subprocess.Popen(daphne, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_until_healthy(base, server)
                token, stored_path = seed(base, password, webhook_token, f"{relay_base}/alerts")
                command = [
                    schemathesis,
                    "--config-file",
                    str(CONFIG),
                    "run",
                    f"{base}/api/v1/openapi.json",
                    "--checks",
                    CHECKS,
                    "--max-time",
                    str(seconds),
                    "--request-timeout",
                    "15",
                    *[arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)],
                    *extra,
                ]
                fuzz_env = {
                    **without_proxies(os.environ),
                    "RPA_FUZZ_JWT": token,
                    "RPA_FUZZ_WEBHOOK_TOKEN": webhook_token,
                    "RPA_FUZZ_STORED_PATH": stored_path,
                    "SCHEMATHESIS_HOOKS": "fuzz_hooks",
                    "PYTHONPATH": str(ROOT / "scripts"),
                }
                logger.info("schemathesis against %s for %ss", base, seconds)
                status = subprocess.run(command, env=fuzz_env, cwd=ROOT).returncode
            finally:
                relay.shutdown()
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
        if status != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-60:]
            logger.error("server log (last lines):\n%s", "\n".join(tail))
        return status


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("RPA_FUZZ_SECONDS", "100")))
    parser.add_argument("--schemathesis", default=os.environ.get("SCHEMATHESIS", "schemathesis"))
    parser.add_argument("extra", nargs="*", help="passed on to `schemathesis run`")
    args = parser.parse_args()
    return run(args.seconds, args.schemathesis, args.extra)


if __name__ == "__main__":
    sys.exit(main())
