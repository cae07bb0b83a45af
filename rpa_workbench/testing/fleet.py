"""A recording relay with a simulated fleet behind it, for the soak (bench/soak.py) and the
mixed-operation concurrency tests (issue 22).

`Fleet.serve()` is a real local HTTP server speaking the relay protocol (API.md §2). It records
every command with the time it arrived (`commands`) and hands it to the robot it addresses.
Each robot runs one app at a time, as a Yingdao listener does: START on an idle robot answers
200, confirms after a short delay, heartbeats during the run and reports the result
(`execution-complete`); START of the same app while it runs is a 200 duplicate; START of another
app while busy is refused with 409 (`Command.refused`); ALL stops the run and confirms STOP.

What a real fleet also does, at configurable rates: a heartbeat sent at the same moment as the
report, the same report delivered twice, a report delivered late (seconds after the run ended),
and a report for a run that was stopped. Every webhook call and its answer is kept
(`calls`), and every acknowledged report with its `log_id` (`acks`), so a caller can check 5xx
answers and that each acknowledged report was stored exactly once.

It knows no job: the relay's START carries nothing job-specific (the execution_id is the
robot's own run id), exactly like the real relay.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

logger = logging.getLogger(__name__)


@dataclass
class Command:
    """One relay request as it arrived (`at` = time.time()), and what the robot made of it."""

    at: float
    robot: str
    host_ip: str
    port: int
    app_name: str
    target: str  # START | ALL
    status: int = 200
    started_run: bool = False  # a START that began a new run
    refused: bool = False  # a START refused because the robot ran another app
    busy_with: str = ""  # for a refused START: the app the robot was running
    stopped_run: str = ""  # for ALL: the app whose run it ended ("" = the robot was idle)


@dataclass
class Call:
    """One webhook call of the fleet (`at` = when it was sent)."""

    at: float
    path: str
    status: int  # 0 = no answer (connection error or timeout)
    seconds: float
    server: str
    robot: str = ""  # shadow_bot_account of the call
    detail: str = ""  # app, and the action or report status


@dataclass
class Run:
    run_id: str
    app_name: str
    started: datetime
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class Robot:
    name: str
    host_ip: str
    port: int
    run: Run | None = None


@dataclass
class FleetBehaviour:
    run_seconds: tuple[float, float] = (1.0, 6.0)
    heartbeat_seconds: float = 1.0
    confirm_delay: tuple[float, float] = (0.02, 0.4)
    failure_rate: float = 0.25
    duplicate_rate: float = 0.2  # the same report delivered twice
    late_rate: float = 0.15  # the report delivered late
    late_seconds: tuple[float, float] = (1.5, 6.0)
    report_after_stop_rate: float = 0.15  # a stopped run still reports (late, as failed)
    heartbeat_with_report_rate: float = 0.5  # a heartbeat sent at the same moment as the report
    relay_latency: tuple[float, float] = (0.0, 0.1)  # from the relay's receipt to the robot's answer
    slow_rate: float = 0.0  # a command the relay is slow to pass on …
    slow_seconds: tuple[float, float] = (1.0, 3.0)  # … by this long


class Fleet:
    """`servers`: base URLs the robots call (each call picks one at random)."""

    def __init__(self, servers: list[str], token: str, robots: list[tuple[str, str, int]], *, seed: int = 1,
                 behaviour: FleetBehaviour | None = None, clock: Callable[[], float] = time.time):
        self.servers = servers
        self.token = token
        self.behaviour = behaviour or FleetBehaviour()
        self.robots = {(ip, port): Robot(name, ip, port) for name, ip, port in robots}
        self.commands: list[Command] = []
        self.calls: list[Call] = []
        self.acks: dict[str, list[str]] = {}  # execution_id → the log_id of every 2xx answer
        self.unacknowledged: list[str] = []  # reports that never got a 2xx
        self._clock = clock
        self._random = random.Random(seed)
        self._lock = threading.RLock()  # command() holds it while _start spawns
        self._local = threading.local()
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self.url = ""

    def add_robots(self, robots: list[tuple[str, str, int]]) -> None:
        """(account name, host IP, port) of robots known only after the relay's URL was needed."""
        with self._lock:
            self.robots.update({(ip, port): Robot(name, ip, port) for name, ip, port in robots})

    # -- helpers ---------------------------------------------------------------------------------
    def _rand(self, low_high: tuple[float, float]) -> float:
        with self._lock:
            return self._random.uniform(*low_high)

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return self._random.random() < rate

    def _spawn(self, target: Callable, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def post(self, path: str, body: dict) -> requests.Response | None:
        with self._lock:
            server = self._random.choice(self.servers)
        sent, began = self._clock(), time.monotonic()
        try:
            response = self._session().post(f"{server}/api/v1/webhook/{path}", json=body,
                                            headers={"X-Webhook-Token": self.token}, timeout=30)
        except requests.RequestException as exc:
            logger.warning("fleet: %s failed: %s", path, exc)
            response = None
        detail = " ".join(str(body[k]) for k in ("app_name", "action", "status", "execution_id") if body.get(k))
        call = Call(sent, path, response.status_code if response is not None else 0,
                    time.monotonic() - began, server, body.get("shadow_bot_account", ""), detail)
        with self._lock:
            self.calls.append(call)
        return response

    def idle(self, timeout: float) -> bool:
        """Wait until no robot runs and every report thread is done; True when reached."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = any(robot.run for robot in self.robots.values()) or any(t.is_alive() for t in self._threads)
            if not busy:
                return True
            time.sleep(0.2)
        return False

    def report_now(self, robot_name: str, *, failed: bool = False) -> bool:
        """End the robot's run now and post its report in this thread (a test choosing the moment
        of a report); False when the robot runs nothing."""
        with self._lock:
            robot = next((r for r in self.robots.values() if r.name == robot_name), None)
            run = robot.run if robot is not None else None
            if run is None:
                return False
            robot.run = None
            run.stop.set()
        self._report(robot, run, failed=failed)
        return True

    def running(self, robot_name: str) -> str | None:
        """The app the robot runs now, if any."""
        with self._lock:
            robot = next((r for r in self.robots.values() if r.name == robot_name), None)
            return robot.run.app_name if robot is not None and robot.run is not None else None

    def close(self) -> None:
        """Stop every run without reporting (the caller is done)."""
        self._closing.set()
        with self._lock:
            for robot in self.robots.values():
                if robot.run is not None:
                    robot.run.stop.set()
                    robot.run = None

    # -- the relay -------------------------------------------------------------------------------
    def command(self, query: dict[str, str], received: float | None = None) -> tuple[int, dict]:
        """Hand a relay request to its robot; `received`: when the relay got it (default now)."""
        try:
            key = (query.get("backend_ip", ""), int(query.get("backend_port", "")))
        except ValueError:
            return 400, {"success": False, "message": "backend_port must be a number"}
        target, app_name = query.get("target", ""), query.get("tak", "")
        robot = self.robots.get(key)
        if robot is None or target not in ("START", "ALL") or not app_name:
            return 404, {"success": False, "message": "no such robot or bad command"}
        with self._lock:
            command = Command(self._clock() if received is None else received, robot.name, robot.host_ip, robot.port, app_name, target)
            self.commands.append(command)
            if target == "START":
                return self._start(robot, command)
            return self._stop(robot, command)

    def _start(self, robot: Robot, command: Command) -> tuple[int, dict]:
        current = robot.run
        if current is not None and current.app_name.lower() == command.app_name.lower():
            return 200, {"success": True, "message": "already running"}
        if current is not None:
            command.status, command.refused, command.busy_with = 409, True, current.app_name
            return 409, {"success": False, "message": f"{robot.name} is busy running {current.app_name}"}
        robot.run = Run(uuid.uuid4().hex, command.app_name, datetime.now(UTC))
        command.started_run = True
        self._spawn(self._execute, robot, robot.run)
        return 200, {"success": True, "message": "START delivered"}

    def _stop(self, robot: Robot, command: Command) -> tuple[int, dict]:
        run, robot.run = robot.run, None
        command.stopped_run = run.app_name if run is not None else ""
        if run is not None:
            run.stop.set()
        self._spawn(self._after_stop, robot, run, command.app_name)
        return 200, {"success": True, "message": "stop delivered"}

    # -- a robot's side --------------------------------------------------------------------------
    def _who(self, robot: Robot, app_name: str) -> dict:
        return {"shadow_bot_account": robot.name, "app_name": app_name, "host_ip": robot.host_ip}

    def _after_stop(self, robot: Robot, run: Run | None, named_app: str) -> None:
        time.sleep(self._rand(self.behaviour.confirm_delay))
        app_name = run.app_name if run is not None else named_app
        self.post("confirm", {**self._who(robot, app_name), "action": "STOP"})
        if run is not None and self._chance(self.behaviour.report_after_stop_rate):
            time.sleep(self._rand(self.behaviour.late_seconds))
            self._report(robot, run, failed=True)

    def _execute(self, robot: Robot, run: Run) -> None:
        who = self._who(robot, run.app_name)
        if run.stop.wait(self._rand(self.behaviour.confirm_delay)):
            return
        self.post("confirm", {**who, "action": "START"})
        deadline = time.monotonic() + self._rand(self.behaviour.run_seconds)
        while (left := deadline - time.monotonic()) > 0:
            if run.stop.wait(min(self.behaviour.heartbeat_seconds, left)):
                return  # stopped: _after_stop confirms it
            if deadline - time.monotonic() > 0:
                self.post("heartbeat", who)
        with self._lock:
            if robot.run is not run:
                return
            robot.run = None  # the robot is free once the run ended, before its report arrives
        if self._closing.is_set():
            return
        if self._chance(self.behaviour.late_rate):
            time.sleep(self._rand(self.behaviour.late_seconds))
        self._report(robot, run, failed=self._chance(self.behaviour.failure_rate))

    def _report(self, robot: Robot, run: Run, *, failed: bool) -> None:
        end = datetime.now(UTC)
        body = {
            **self._who(robot, run.app_name),
            "execution_id": run.run_id,
            "status": "failed" if failed else "completed",
            "start_time": run.started.isoformat(),
            "end_time": end.isoformat(),
            "duration_seconds": round((end - run.started).total_seconds(), 3),
            "result_summary": {"total_items": 10, "success_items": 7 if failed else 10,
                               "failed_items": 3 if failed else 0, "error_message": "element not found" if failed else None},
            "log_info": False,
            "screenshot": False,
        }
        if self._chance(self.behaviour.heartbeat_with_report_rate):
            self._spawn(self.post, "heartbeat", self._who(robot, run.app_name))
        acknowledged = self._deliver(body)
        if acknowledged and self._chance(self.behaviour.duplicate_rate):
            time.sleep(self._rand((0.05, 2.0)))
            self._deliver(body)

    def _deliver(self, body: dict, attempts: int = 3) -> bool:
        """Post a report, retrying (as robots do) on a 5xx or no answer; True once acknowledged."""
        for attempt in range(attempts):
            response = self.post("execution-complete", body)
            if response is not None and response.status_code < 300:
                with self._lock:
                    self.acks.setdefault(body["execution_id"], []).append(response.json().get("log_id"))
                return True
            if response is not None and response.status_code < 500:
                break
            time.sleep(0.3 * (attempt + 1))
        with self._lock:
            self.unacknowledged.append(body["execution_id"])
        return False

    # -- HTTP --------------------------------------------------------------------------------------
    def serve(self) -> ThreadingHTTPServer:
        """Listen on a free loopback port (`self.url` = the relay URL); the caller runs
        serve_forever() in a thread and shutdown() at the end (or use `start()`)."""
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 — http.server's naming
                received = fleet._clock()
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                slow = fleet._chance(fleet.behaviour.slow_rate)
                time.sleep(fleet._rand(fleet.behaviour.slow_seconds if slow else fleet.behaviour.relay_latency))
                status, body = fleet.command(query, received)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format, *args):
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}/yingdao"
        return server

    def start(self) -> ThreadingHTTPServer:
        server = self.serve()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
