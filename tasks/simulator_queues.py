"""The robot simulator's work queue robots (API.md §13), for `make demo` and tests.

A run of an app listed in `QueueWork.apps` (app name → queue name) takes items through
`/webhook/queue/next` until none is ready, "works" each for a moment and posts its result to
`/webhook/queue/items/{id}/result`: mostly successful, about one in ten failed — some business
exceptions (final), some application exceptions (retried by the queue). It speaks HTTP only, like
a real robot, so it imports nothing of the work queues app.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import requests

logger = logging.getLogger(__name__)

# The demo's queue (workqueues' seed_demo_queue): its app and queue names.
DEMO_APPS = {"process_orders": "Demo orders"}
BUSINESS_ERRORS = ["customer account closed", "order cancelled by the buyer", "address outside delivery area"]
APPLICATION_ERRORS = ["ERP login page did not load", "element not found: #confirm", "export timed out"]


@dataclass
class QueueWork:
    """Called by RobotSimulator for each run: True when it worked a queue (until empty)."""

    callback: str
    token: str
    apps: dict[str, str] = field(default_factory=lambda: dict(DEMO_APPS))
    item_seconds: tuple[float, float] = (0.2, 0.8)
    failure_rate: float = 0.1
    heartbeat_seconds: float = 15.0
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._session = requests.Session()
        self._lock = threading.Lock()

    def _post(self, path: str, body: dict) -> requests.Response | None:
        try:
            return self._session.post(f"{self.callback.rstrip('/')}/api/v1/webhook/{path}", json=body,
                                      headers={"X-Webhook-Token": self.token}, timeout=10)
        except requests.RequestException as exc:
            logger.warning("simulator: %s failed: %s", path, exc)
            return None

    def outcome(self) -> dict:
        """About one in ten fails: half of those business exceptions, half application ones."""
        with self._lock:
            roll, pick = self._random.random(), self._random.random()
        if roll >= self.failure_rate:
            return {"status": "successful", "output": {"confirmation": f"C{int(roll * 1e9):09d}"}}
        if pick < 0.5:
            return {"status": "failed", "error_type": "business", "error_message": self._random.choice(BUSINESS_ERRORS)}
        return {"status": "failed", "error_type": "application", "error_message": self._random.choice(APPLICATION_ERRORS)}

    def __call__(self, run, stop: threading.Event | None = None) -> bool:
        queue = next((name for app, name in self.apps.items() if app.lower() == run.app_name.lower()), None)
        if queue is None:
            return False
        who = {"shadow_bot_account": run.account, "app_name": run.app_name}
        stop = stop or getattr(run, "stop", None) or threading.Event()
        worked, last_beat = 0, time.monotonic()
        while not stop.is_set():
            answer = self._post("queue/next", {"queue": queue, **who})
            if answer is None or answer.status_code != 200:
                break
            item = answer.json().get("item")
            if item is None:
                break
            with self._lock:
                pause = self._random.uniform(*self.item_seconds)
            stop.wait(pause)
            self._post(f"queue/items/{item['id']}/result", self.outcome())
            worked += 1
            if time.monotonic() - last_beat >= self.heartbeat_seconds:
                self._post("heartbeat", {**who, "host_ip": run.host_ip})
                last_beat = time.monotonic()
        logger.info("simulator: %s on %s worked %s item(s) of %s", run.app_name, run.account, worked, queue)
        return True
