"""A fake Yingdao Open API: a real local HTTP server behaving as YINGDAO_OPENAPI.md describes.

Used by the tests (`start_fake_yingdao()`), `manage.py fake_yingdao` and `make demo`. It issues
expiring tokens, honours `idempotentUuid` on job/start (a repeat returns the same jobUuid and
makes no new job), answers job/query, job/stop and a paged client/list, refuses calls beyond the
published rate limits, and POSTs callbacks to each job's `callbackUrl` in both shapes.

Tests drive jobs by hand (`set_status`, then `flush()` delivers the queued callbacks in the test's
thread); with `autorun` each job runs by itself for `run_seconds`, its callbacks posted from a
timer thread, including a duplicate and a late, out-of-order one. Time (token expiry, rate
windows) comes from `clock`, which tests may replace with a `FakeClock`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zoneinfo
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from rpa_workbench.testing.servers import serve_in_background
from yingdao.limiter import PUBLISHED_LIMITS
from yingdao.testing_params import ParamsFake, parse_multipart

logger = logging.getLogger(__name__)

FINAL = {"finish", "error", "stopped"}


class FakeClock:
    """A clock tests move by hand; `sleep` advances it (single-threaded pacing tests)."""

    def __init__(self, start: float = 1_000_000.0):
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(seconds, 0)

    sleep = advance


@dataclass
class FakeJob:
    job_uuid: str
    body: dict[str, Any]
    status: str = "waiting"
    start_time: datetime | None = None
    end_time: datetime | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    screenshot_url: str = ""
    # The robot that runs it: the accountName it was started for, or the member a group start
    # (robotClientGroupUuid, executeScope any) picked (FakeYingdao.groups).
    runner: str = ""

    @property
    def callback_url(self) -> str:
        return str(self.body.get("callbackUrl") or "")

    def as_query(self) -> dict[str, Any]:
        return {
            "jobUuid": self.job_uuid,
            "status": self.status,
            "statusName": self.status,
            "remark": "",
            "robotUuid": self.body.get("robotUuid"),
            "robotName": f"app {self.body.get('robotUuid')}",
            "robotClientUuid": f"client-{self.runner}",
            "robotClientName": self.runner,
            "startTime": _local(self.start_time),
            "endTime": _local(self.end_time),
            "screenshotUrl": self.screenshot_url or None,
            "robotParams": {"inputs": self.body.get("params") or [], "outputs": self.outputs},
        }


TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def _epoch_ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def http_deliver(url: str, body: dict[str, Any]) -> int:
    """POST one callback; the HTTP status (0 when it did not arrive)."""
    try:
        return requests.post(url, json=body, timeout=10).status_code
    except requests.RequestException as exc:
        logger.warning("fake yingdao: callback not delivered: %s", type(exc).__name__)
        return 0


class FakeYingdao(ParamsFake):
    """The fake tenant's state and counters; `url` is the base URL to configure."""

    def __init__(
        self,
        *,
        key_id: str = "fake-key-id",
        key_secret: str = "fake-key-secret",
        token_ttl: int = 7200,
        clock: Callable[[], float] = time.monotonic,
        enforce_limits: bool = True,
        autorun: bool = False,
        run_seconds: float = 5.0,
        deliver: Callable[[str, dict[str, Any]], int] = http_deliver,
    ):
        self.url = ""
        self.key_id, self.key_secret = key_id, key_secret
        self.token_ttl = token_ttl
        self.clock = clock
        self.enforce_limits = enforce_limits
        self.limits = dict(PUBLISHED_LIMITS)
        self.autorun, self.run_seconds = autorun, run_seconds
        self.deliver = deliver
        self.lock = threading.RLock()
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.issued_tokens: list[str] = []
        self.jobs: dict[str, FakeJob] = {}
        self.by_idempotent: dict[str, str] = {}
        self.clients: list[dict[str, Any]] = []
        # robotClientGroupUuid → the robot names of the group; a group start runs on the first.
        self.groups: dict[str, list[str]] = {}
        # (endpoint, clock time) of every accepted call; refusals counted per endpoint.
        self.accepted: list[tuple[str, float]] = []
        self.refused: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self._windows: dict[str, deque[float]] = {}
        # endpoint -> (code, msg): answer every call to it with that failure until cleared.
        self.failures: dict[str, tuple[int, str]] = {}
        # Seconds job/start sleeps after making the job, before answering (simulates timeouts).
        self.start_answer_delay = 0.0
        # Called with the new job before job/start answers (e.g. to race a callback with it).
        self.on_start: Callable[[FakeJob], None] | None = None
        self.outbox: list[tuple[str, dict[str, Any]]] = []
        self.delivered: list[tuple[str, dict[str, Any], int]] = []
        self.callbacks_enabled = True
        self._init_params()  # file/upload and queryRobotParam (yingdao.testing_params)

    # -- counters for tests ------------------------------------------------------------------
    def calls(self, endpoint: str) -> list[float]:
        with self.lock:
            return [at for name, at in self.accepted if name == endpoint]

    def max_per_second(self, endpoint: str) -> int:
        """The most accepted calls to `endpoint` inside any one-second window."""
        times = sorted(self.calls(endpoint))
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= 1.0:
                first += 1
            best = max(best, last - first + 1)
        return best

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def add_client(self, name: str, *, status: str = "idle", ip: str = "10.0.0.5", **extra: Any) -> dict:
        client = {
            "robotClientUuid": extra.pop("uuid", f"client-{name}"),
            "robotClientName": name,
            "status": status,
            "description": "",
            "windowsUserName": "rpa",
            "clientIp": ip,
            "machineName": f"PC-{name}",
            **extra,
        }
        with self.lock:
            self.clients.append(client)
        return client

    # -- driving jobs --------------------------------------------------------------------------
    def set_status(
        self,
        job_uuid: str,
        status: str,
        *,
        shape: str = "job",
        outputs: list[dict[str, Any]] | None = None,
        screenshot_url: str = "",
        notify: bool = True,
    ) -> dict[str, Any]:
        """Move a job on (as the robot would) and queue its callback; returns the callback body."""
        with self.lock:
            job = self.jobs[job_uuid]
            now = datetime.now(TIMEZONE).replace(microsecond=0)
            if status == "running" and job.start_time is None:
                job.start_time = now
            if status in FINAL:
                job.start_time = job.start_time or now
                job.end_time = now
            if outputs is not None:
                job.outputs = outputs
            if screenshot_url:
                job.screenshot_url = screenshot_url
            job.status = status
            body = self.callback_body(job, shape=shape)
            if notify and self.callbacks_enabled and job.callback_url:
                self.outbox.append((job.callback_url, body))
        return body

    def callback_body(self, job: FakeJob, *, shape: str = "job") -> dict[str, Any]:
        if shape == "task":
            return {
                "dataType": "task",
                "taskUuid": f"task-{job.job_uuid}",
                "status": job.status,
                "startTime": _epoch_ms(job.start_time),
                "endTime": _epoch_ms(job.end_time),
                "jobList": [
                    {
                        "jobUuid": job.job_uuid,
                        "robotName": f"app {job.body.get('robotUuid')}",
                        "status": job.status,
                        "startTime": _epoch_ms(job.start_time),
                        "endTime": _epoch_ms(job.end_time),
                    }
                ],
            }
        body = {
            "dataType": "job",
            "jobUuid": job.job_uuid,
            "robotName": f"app {job.body.get('robotUuid')}",
            "robotClientName": job.runner,
            "status": job.status,
            "startTime": _local(job.start_time),
            "endTime": _local(job.end_time),
        }
        if job.screenshot_url:
            body["screenshotUrl"] = job.screenshot_url
        if job.status in FINAL:  # the run's output params, as Yingdao's job callback carries them
            body["result"] = list(job.outputs)
        return body

    def flush(self) -> list[int]:
        """Deliver the queued callbacks, in order, in the calling thread; their HTTP statuses."""
        with self.lock:
            pending, self.outbox = self.outbox, []
        statuses = []
        for url, body in pending:
            status = self.deliver(url, body)
            with self.lock:
                self.delivered.append((url, body, status))
            statuses.append(status)
        return statuses

    def _autorun(self, job_uuid: str) -> None:
        """One job's life: running, then finish (in the other shape), a duplicate of the end,
        and a late `running` after it (out of order)."""
        shape = "job" if len(self.jobs) % 2 else "task"
        steps = [
            (0.5, "running", "job"),
            (self.run_seconds, "finish", shape),
            (0.2, "finish", shape),
            (0.2, "running", "job"),
        ]
        for delay, status, step_shape in steps:
            time.sleep(delay)
            with self.lock:
                job = self.jobs[job_uuid]
                if job.status in FINAL and status == "finish" and job.end_time is None:
                    return
                if job.status == "stopped":
                    self.flush()
                    return
                if status == "running" and job.status in FINAL:
                    # Out of order: re-send an old `running` without changing the job.
                    body = {**self.callback_body(job, shape="job"), "status": "running"}
                    self.outbox.append((job.callback_url, body))
                elif status == "finish" and job.status == "finish":
                    self.outbox.append((job.callback_url, self.callback_body(job, shape=step_shape)))
                else:
                    outputs = [{"name": "total_items", "value": 12}, {"name": "success_items", "value": 12}]
                    self.set_status(job_uuid, status, shape=step_shape, outputs=outputs)
            self.flush()

    # -- the API ---------------------------------------------------------------------------
    def handle(self, endpoint: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        with self.lock:
            self.requests.append((endpoint, body, {"token": "present" if token else ""}))
            if self.enforce_limits and not self._within_limit(endpoint):
                self.refused[endpoint] = self.refused.get(endpoint, 0) + 1
                return {"code": 429, "success": False, "msg": "rate limit exceeded (请求过于频繁)"}
            if endpoint != "token":
                expires = self.tokens.get(token or "")
                if expires is None or expires <= self.clock():
                    return {"code": 401, "success": False, "msg": "accessToken invalid or expired"}
            self.accepted.append((endpoint, self.clock()))
            failure = self.failures.get(endpoint)
            if failure:
                return {"code": failure[0], "success": False, "msg": failure[1]}
        return getattr(self, "_" + endpoint.replace("/", "_"))(body)

    def _within_limit(self, endpoint: str) -> bool:
        now = self.clock()
        window = self._windows.setdefault(endpoint, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.limits.get(endpoint, 5):
            return False
        window.append(now)
        return True

    def _token(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("accessKeyId") != self.key_id or params.get("accessKeySecret") != self.key_secret:
            return {"code": 400, "success": False, "msg": "accessKeyId or accessKeySecret is wrong"}
        with self.lock:
            token = uuid.uuid4().hex
            self.tokens[token] = self.clock() + self.token_ttl
            self.tokens_issued += 1
            self.issued_tokens.append(token)
        return self._ok({"accessToken": token, "expiresIn": self.token_ttl})

    def _job_start(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("robotUuid"):
            return {"code": 400, "success": False, "msg": "robotUuid 不能为空 (robotUuid is required)"}
        idempotent = str(body.get("idempotentUuid") or "")
        if len(idempotent) > 36:
            return {"code": 400, "success": False, "msg": "idempotentUuid longer than 36 characters"}
        with self.lock:
            seen = self.by_idempotent.get(idempotent) if idempotent else None
            if seen:
                return self._ok({"jobUuid": seen, "idempotentFlag": True})
            group = self.groups.get(str(body.get("robotClientGroupUuid") or ""), [])
            runner = str(body.get("accountName") or (group[0] if group else ""))
            job = FakeJob(job_uuid=str(uuid.uuid4()), body=dict(body), runner=runner)
            self.jobs[job.job_uuid] = job
            if idempotent:
                self.by_idempotent[idempotent] = job.job_uuid
        if self.on_start is not None:
            self.on_start(job)
        if self.autorun:
            threading.Thread(target=self._autorun, args=(job.job_uuid,), daemon=True).start()
        if self.start_answer_delay:
            time.sleep(self.start_answer_delay)
        return self._ok({"jobUuid": job.job_uuid, "idempotentFlag": False})

    def _job_query(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(str(body.get("jobUuid")))
            if job is None:
                return {"code": 404, "success": False, "msg": "job not found"}
            return self._ok(job.as_query())

    def _job_stop(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(str(body.get("jobUuid")))
            if job is None:
                return {"code": 404, "success": False, "msg": "job not found"}
            if job.status in FINAL:
                return {"code": 400, "success": False, "msg": f"job already {job.status}"}
            self.set_status(job.job_uuid, "stopped")
        if self.autorun:
            threading.Thread(target=self.flush, daemon=True).start()
        return self._ok(None)

    def _client_list(self, body: dict[str, Any]) -> dict[str, Any]:
        page, size = max(int(body.get("page") or 1), 1), max(min(int(body.get("size") or 50), 100), 1)
        with self.lock:
            total = len(self.clients)
            items = [dict(c) for c in self.clients[(page - 1) * size : page * size]]
        answer = self._ok(items)
        answer["page"] = {"total": total, "size": size, "page": page, "pages": (total + size - 1) // size}
        return answer

    @staticmethod
    def _ok(data: Any) -> dict[str, Any]:
        return {"code": 200, "success": True, "msg": "success", "data": data}


ROUTES = {
    "/oapi/token/v2/token/create": "token",
    "/oapi/dispatch/v2/job/start": "job/start",
    "/oapi/dispatch/v2/job/query": "job/query",
    "/oapi/dispatch/v2/job/stop": "job/stop",
    "/oapi/dispatch/v2/client/list": "client/list",
    "/oapi/dispatch/v2/file/upload": "file/upload",
    "/oapi/robot/v2/queryRobotParam": "robot/queryRobotParam",
}


def make_server(fake: FakeYingdao, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            split = urlsplit(self.path)
            endpoint = ROUTES.get(split.path)
            if endpoint is None:
                return self._send(404, {"code": 404, "success": False, "msg": "no such API"})
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if endpoint in ("token", "robot/queryRobotParam"):
                body = {k: v[-1] for k, v in parse_qs(split.query).items()}
            elif endpoint == "file/upload":
                body = parse_multipart(self.headers.get("Content-Type", ""), raw)
            else:
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(400, {"code": 400, "success": False, "msg": "malformed JSON"})
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            self._send(200, fake.handle(endpoint, body if isinstance(body, dict) else {}, token))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format, *args):  # the token URL carries the key secret: never log it
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    fake.url = f"http://{host}:{server.server_address[1]}"
    return server


def start_fake_yingdao(**options: Any) -> tuple[FakeYingdao, ThreadingHTTPServer]:
    """Start a fake on a free local port in a background thread."""
    fake = FakeYingdao(**options)
    server = make_server(fake)
    serve_in_background(server)
    return fake, server
