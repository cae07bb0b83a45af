"""The dispatcher's wake-up and thread pool, apart from the loop so that transitions and the
outbox can wake it and hand it sends without importing it (jobs/ has no import cycle).
Process-local on purpose: a kick only shortens this process's wait; every pass re-reads the
database, so a lost kick delays work by at most RPA_DISPATCHER_INTERVAL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection

_wake = threading.Event()
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def kick() -> None:
    """Ask this process's dispatcher loop for a pass now (a robot became free, a job queued)."""
    _wake.set()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.RPA_DISPATCHER_THREADS, thread_name_prefix="rpa-dispatch")
        return _pool


def clear() -> None:
    _wake.clear()


def wait(timeout: float) -> bool:
    """Sleep until kicked or `timeout` seconds passed."""
    return _wake.wait(timeout)


def _in_thread(send: Callable[..., None], *args: Any) -> None:
    """`send` in a pool thread, which closes its database connection afterwards."""
    try:
        send(*args)
    finally:
        connection.close()


def run_in_pool(send: Callable[..., None], *args: Any) -> Future | None:
    """Run a send in the pool; with RPA_DISPATCHER_THREADS = 0, here and now (the tests' setting:
    they run inside one transaction that other threads' connections cannot see)."""
    if settings.RPA_DISPATCHER_THREADS == 0:
        send(*args)
        return None
    return pool().submit(_in_thread, send, *args)
