"""A robot simulator speaking the relay protocol (API.md §2), for demos and end-to-end tests.

It stands where the relay and the Yingdao robots behind it would be: `GET ?backend_ip=&
backend_port=&tak=&target=&timestamp=`. On START it answers at once, then (in a thread) confirms
through `/webhook/confirm`, sends heartbeats, "runs" for a random time and posts
`/webhook/execution-complete` with a plausible result — mostly completed, sometimes failed —
whose screenshot and log URLs point at the window picture and log it keeps on disk and serves
itself (tasks/simulator_files.py). On ALL it stops the runs on that robot and confirms STOP.
Idle robots send the idle heartbeat, at once when the simulator starts (tasks/simulator_idle.py).
Every webhook call carries the webhook secret.

Robots are addressed by host and port, but webhooks name the account, so the simulator needs a
`resolve(host_ip, port) -> shadow_bot_account | None`; the management command reads accounts
from the database.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from tasks.simulator_files import FileStore, RunPicture

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], "str | None"]


@dataclass
class Run:
    run_id: str
    account: str
    host_ip: str
    port: int
    app_name: str
    started: datetime
    stop: threading.Event = field(default_factory=threading.Event)
    # API.md §11: what config/get said this run is (the job) and runs with (its inputs).
    job_id: str | None = None
    inputs: dict = field(default_factory=dict)
    secret_inputs: list = field(default_factory=list)


@dataclass
class RobotSimulator:
    callback: str  # base URL of the backend, e.g. http://127.0.0.1:8888
    token: str
    resolve: Resolver
    run_seconds: tuple[float, float] = (20.0, 60.0)
    heartbeat_seconds: float = 15.0
    confirm_delay: float = 0.3
    failure_rate: float = 0.2
    seed: int | None = None
    public_url: str = ""  # where the simulator's own files are reachable (set by serve())
    runs: dict[tuple[str, int], Run] = field(default_factory=dict)  # (host, port) → its one run
    refused: int = 0
    # Runs of work-queue apps take items until none is left instead (tasks/simulator_queues.py).
    work: Callable[[Run], bool] | None = None
    files_dir: str | None = None  # screenshots and logs (None: a new temporary directory)
    zone: tzinfo = UTC  # the robots' zone, for the times in their logs
    fail_first: frozenset[str] = frozenset()  # apps whose first run fails (the demo's retry)

    def __post_init__(self) -> None:
        self.files = FileStore(self.files_dir or tempfile.mkdtemp(prefix="rpa-simulator-"), self.zone)
        self._lock = threading.Lock()
        self._failed_once: set[str] = set()
        self._random = random.Random(self.seed)
        self._session = requests.Session()

    # -- webhooks ---------------------------------------------------------------------------
    def post(self, path: str, body: dict, attempts: int = 3) -> bool:
        url = self.callback.rstrip("/") + "/api/v1/webhook/" + path
        for attempt in range(1, attempts + 1):
            try:
                response = self._session.post(url, json=body, headers={"X-Webhook-Token": self.token}, timeout=10)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        logger.warning("simulator: %s answered %s: %s", path, response.status_code, response.text[:200])
                    return response.ok
            except requests.RequestException as exc:
                logger.warning("simulator: %s failed (attempt %s): %s", path, attempt, exc)
            threading.Event().wait(0.5 * attempt)
        return False

    def is_running(self, host_ip: str, port: int) -> bool:
        with self._lock:
            return (host_ip, port) in self.runs

    # -- relay protocol ---------------------------------------------------------------------
    def handle_control(self, query: dict[str, str]) -> tuple[int, dict]:
        target = query.get("target", "")
        app_name = query.get("tak", "")
        host_ip = query.get("backend_ip", "")
        try:
            port = int(query.get("backend_port", ""))
        except ValueError:
            return 400, {"success": False, "message": "backend_port must be a number"}
        if target not in ("START", "ALL") or not app_name or not host_ip:
            return 400, {"success": False, "message": "need backend_ip, backend_port, tak and target START|ALL"}
        account = self.resolve(host_ip, port)
        if account is None:
            return 404, {"success": False, "message": f"no robot listening at {host_ip}:{port}"}
        if target == "START":
            return self.start(account, host_ip, port, app_name)
        return self.stop(account, host_ip, port, app_name)

    def start(self, account: str, host_ip: str, port: int, app_name: str) -> tuple[int, dict]:
        key = (host_ip, port)
        with self._lock:
            current = self.runs.get(key)
            if current is not None and current.app_name.lower() == app_name.lower():
                return 200, {"success": True, "message": f"{app_name} is already running on {account}"}
            if current is not None:
                self.refused += 1
                return 409, {"success": False, "message": f"{account} is busy running {current.app_name}"}
            run = Run(uuid.uuid4().hex, account, host_ip, port, app_name, datetime.now(UTC))
            self.runs[key] = run
        threading.Thread(target=self._execute, args=(key, run), name=f"robot-{account}-{app_name}", daemon=True).start()
        return 200, {"success": True, "message": f"START delivered to {account}"}

    def stop(self, account: str, host_ip: str, port: int, app_name: str) -> tuple[int, dict]:
        """target=ALL: whatever runs on the robot stops; STOP is confirmed for that app (or, on an
        idle robot, for the app named)."""
        with self._lock:
            run = self.runs.pop((host_ip, port), None)
        if run is not None:
            run.stop.set()
        stopped_app = run.app_name if run is not None else app_name

        def confirm_stop():
            threading.Event().wait(self.confirm_delay)
            self.post("confirm", {"shadow_bot_account": account, "app_name": stopped_app, "action": "STOP", "host_ip": host_ip})

        threading.Thread(target=confirm_stop, daemon=True).start()
        return 200, {"success": True, "message": f"stop delivered to {account}"}

    def _execute(self, key, run: Run) -> None:
        who = {"shadow_bot_account": run.account, "app_name": run.app_name, "host_ip": run.host_ip}
        if run.stop.wait(self.confirm_delay):
            return
        self.post("confirm", {**who, "action": "START"})
        self.read_inputs(run)
        if self.work is not None and self.work(run):
            duration = 0.0  # it worked its queue until empty
        else:
            duration = self._random.uniform(*self.run_seconds)
        deadline = datetime.now(UTC).timestamp() + duration
        while True:
            left = deadline - datetime.now(UTC).timestamp()
            if left <= 0:
                break
            if run.stop.wait(min(self.heartbeat_seconds, left)):
                return  # stopped: the STOP confirm is sent by stop()
            if deadline - datetime.now(UTC).timestamp() > 0:
                self.post("heartbeat", who)
        with self._lock:
            if self.runs.get(key) is not run:
                return
            del self.runs[key]
        self.post("execution-complete", self.result(run))

    def _fails_first(self, app_name: str) -> bool:
        """True once for each app of `fail_first`: its first run fails (and is retried)."""
        app = app_name.lower()
        with self._lock:
            if app not in self.fail_first or app in self._failed_once:
                return False
            self._failed_once.add(app)
            return True

    def result(self, run: Run) -> dict:
        end = datetime.now(UTC)
        failed = self._fails_first(run.app_name) or self._random.random() < self.failure_rate
        total = self._random.randint(20, 300)
        failed_items = self._random.randint(1, max(1, total // 3)) if failed else self._random.randint(0, 2)
        error = self._random.choice(["login page did not load", "element not found: #submit", "export timed out"])
        self.files.save_run(
            RunPicture(run.run_id, run.app_name, run.account, run.started, end, total, failed_items, failed, error if failed else None)
        )
        body = {
            "shadow_bot_account": run.account,
            "app_name": run.app_name,
            "host_ip": run.host_ip,
            "execution_id": run.run_id,
            "status": "failed" if failed else "completed",
            "start_time": run.started.isoformat(),
            "end_time": end.isoformat(),
            "duration_seconds": round((end - run.started).total_seconds(), 3),
            "result_summary": {
                "total_items": total,
                "success_items": total - failed_items,
                "failed_items": failed_items,
                "error_message": error if failed else None,
            },
            "log_info": True,
            "screenshot": True,
            "screenshot_url": f"{self.public_url}/files/{run.run_id}.png",
            "log_url": f"{self.public_url}/files/{run.run_id}.txt",
        }
        self.report_outputs(run, body)
        return body

    # -- inputs and outputs (API.md §11) ----------------------------------------------------
    def read_inputs(self, run: Run) -> None:
        """Ask for the job this run is and its inputs, as a relay robot must (the relay's GET
        cannot carry them): `POST /resources/config/get`."""
        url = self.callback.rstrip("/") + "/api/v1/resources/config/get"
        body = {"shadow_bot_account": run.account, "app_name": run.app_name, "host_ip": run.host_ip}
        try:
            response = self._session.post(url, json=body, headers={"X-Webhook-Token": self.token}, timeout=10)
            config = response.json() if response.ok else {}
        except (requests.RequestException, ValueError) as exc:
            logger.warning("simulator: config/get failed: %s", exc)
            return
        run.job_id = config.get("job_id") or None
        run.inputs = config.get("inputs") or {}
        run.secret_inputs = list(config.get("secret_inputs") or [])
        logger.info("simulator: %s runs job %s with %d input(s)", run.app_name, run.job_id, len(run.inputs))

    def report_outputs(self, run: Run, body: dict) -> None:
        """The report names its job (execution_id) and returns outputs: the items exported, the
        names of the inputs it got, and the value of each input that is not secret (echoed)."""
        if run.job_id:
            body["execution_id"] = run.job_id
        summary = body["result_summary"]
        outputs = {"exported_items": summary["success_items"], "inputs_received": sorted(run.inputs)}
        for name, value in run.inputs.items():
            if name not in run.secret_inputs:
                outputs[f"echo_{name}"] = value
        body["outputs"] = outputs

    # -- HTTP server --------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        """Listen (port 0 = any free port); the caller runs serve_forever() and shutdown()."""
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802 — http.server's naming
                split = urlsplit(self.path)
                if split.path.startswith("/files/"):
                    found = simulator.files.read(split.path.removeprefix("/files/"))
                    if found is None:
                        self._send(404, b"not found", "text/plain")
                    else:
                        self._send(200, found[1], found[0])
                    return
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                status, body = simulator.handle_control(query)
                logger.info("simulator: %s %s -> %s", query.get("target"), query.get("tak"), status)
                self._send(status, json.dumps(body).encode(), "application/json")

            def log_message(self, format, *args):
                return

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        if not self.public_url:
            self.public_url = f"http://{host}:{server.server_address[1]}"
        return server
