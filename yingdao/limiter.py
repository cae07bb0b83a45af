"""Per-endpoint pacing within Yingdao's published rate limits, shared by every thread.

Yingdao refuses calls beyond N per second per tenant and endpoint (YINGDAO_OPENAPI.md). Each
endpoint gets a sliding window: a caller reserves the earliest instant at which its call still
leaves at most N calls in any window of `WINDOW` seconds, then sleeps until then. Reservations
are made under one lock, so concurrent threads queue in order instead of bursting together.
The window is a little longer than one second (`WINDOW`) so that network jitter between us and
Yingdao cannot squeeze N + 1 arrivals into one of its seconds.

The limiter is per process: several server processes each keep within the limit on their own,
which is why the published limits are the default only for one process (see docs/yingdao.md).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

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
    """`wait(endpoint)` blocks until a call to `endpoint` fits within its limit.

    `clock` and `sleep` can be replaced (tests drive a virtual clock with them).
    """

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
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}

    def limit_of(self, endpoint: str) -> int:
        return self.limits.get(endpoint, DEFAULT_LIMIT)

    def reserve(self, endpoint: str) -> float:
        """Book the next free instant for `endpoint` and return how long to wait for it."""
        limit = self.limit_of(endpoint)
        with self._lock:
            now = self.clock()
            sent = self._sent.setdefault(endpoint, deque())
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            # Never before a call already booked (the deque stays sorted), and never while the
            # `limit` calls before ours still share a window with it.
            at = max(now, sent[-1]) if sent else now
            if len(sent) >= limit:
                at = max(at, sent[-limit] + self.window)
            sent.append(at)
            return at - now

    def wait(self, endpoint: str) -> None:
        delay = self.reserve(endpoint)
        if delay > 0:
            self.sleep(delay)

    def hold_off(self, endpoint: str, seconds: float) -> None:
        """After a refusal: no call to `endpoint` before `seconds` from now (any thread)."""
        limit = self.limit_of(endpoint)
        with self._lock:
            until = self.clock() + seconds - self.window
            sent = self._sent.setdefault(endpoint, deque())
            # Fill the window with reservations ending at `until`: the next caller waits past it.
            while len(sent) < limit:
                sent.append(until)
            for index in range(len(sent) - limit, len(sent)):
                sent[index] = max(sent[index], until)


_shared: Limiter | None = None
_shared_lock = threading.Lock()


def shared() -> Limiter:
    """The process-wide limiter every Yingdao call goes through."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Limiter()
        return _shared
