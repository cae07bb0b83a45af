"""Per-endpoint pacing within Yingdao's published rate limits, shared by every thread.

Yingdao refuses calls beyond N per second per tenant and endpoint (YINGDAO_OPENAPI.md). A call
reaches Yingdao at some instant between the moment it is sent and the moment its answer is back,
so each call occupies its endpoint's window from when it starts until `WINDOW` seconds after it
completed: a new call starts only while fewer than N calls are in flight or completed within the
last `WINDOW` seconds. However late a thread actually sends (a busy machine, the GIL), no N + 1
arrivals can then fall into one of Yingdao's seconds. `WINDOW` is a little over one second for
the clocks' sake. All threads share one `Limiter` (`shared()`), under one lock.

The limiter is per process: several server processes each keep within the limit on their own,
which is why the published limits are the default only for one process (see docs/yingdao.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Requests per second per endpoint, as published (YINGDAO_OPENAPI.md "Rate limits").
PUBLISHED_LIMITS: dict[str, int] = {
    "token": 20,
    "job/start": 10,
    "job/query": 30,
    "job/stop": 10,
    "job/retry": 10,
    "client/list": 20,
    "client/query": 20,
    "job/log/search": 5,
}
# Endpoints with no published limit are paced like the strictest one we know of.
DEFAULT_LIMIT = 5
# Seconds per window: one second plus a margin for jitter.
WINDOW = 1.05


class Limiter:
    """`with limiter.slot(endpoint): call()` runs the call once it fits within the limit.

    `clock` and `sleep` can be replaced (tests drive a virtual clock with them).
    """

    # Longest real wait for an in-flight call to complete before looking again.
    IN_FLIGHT_POLL = 0.05

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        *,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limits = dict(PUBLISHED_LIMITS if limits is None else limits)
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._changed = threading.Condition()
        # Per endpoint, one entry per call: [completed at] (None while in flight).
        self._calls: dict[str, list[list[float | None]]] = {}

    def limit_of(self, endpoint: str) -> int:
        return self.limits.get(endpoint, DEFAULT_LIMIT)

    def _acquire(self, endpoint: str) -> list[float | None]:
        limit = self.limit_of(endpoint)
        while True:
            with self._changed:
                now = self.clock()
                calls = self._calls.setdefault(endpoint, [])
                calls[:] = [c for c in calls if c[0] is None or c[0] > now - self.window]
                if len(calls) < limit:
                    entry: list[float | None] = [None]
                    calls.append(entry)
                    return entry
                done = [c[0] for c in calls if c[0] is not None]
                if not done:  # all in flight: wait for one to complete
                    self._changed.wait(self.IN_FLIGHT_POLL)
                    continue
                delay = min(done) + self.window - now
            self.sleep(max(delay, 0.001))

    def _release(self, entry: list[float | None]) -> None:
        with self._changed:
            entry[0] = self.clock()
            self._changed.notify_all()

    @contextmanager
    def slot(self, endpoint: str) -> Iterator[None]:
        entry = self._acquire(endpoint)
        try:
            yield
        finally:
            self._release(entry)

    def hold_off(self, endpoint: str, seconds: float) -> None:
        """After a refusal: no call to `endpoint` before `seconds` from now (any thread)."""
        limit = self.limit_of(endpoint)
        with self._changed:
            until = self.clock() + seconds - self.window
            calls = self._calls.setdefault(endpoint, [])
            calls.extend([until] for _ in range(limit))


_shared: Limiter | None = None
_shared_lock = threading.Lock()


def shared() -> Limiter:
    """The process-wide limiter every Yingdao call goes through."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Limiter()
        return _shared
