"""The loops embedded in the server process (the single-process default): the scheduler
(tasks/scheduler.py) and the job dispatcher (jobs/dispatcher.py).

Started from asgi.py in daemon threads, so their transitions publish events in the same process
as the SSE connections that must see them, and a job ending here wakes this dispatcher at once.
Each is off when its setting says so (RPA_EMBEDDED_SCHEDULER / RPA_EMBEDDED_DISPATCHER=false:
`manage.py run_scheduler` / `run_dispatcher` run instead), and never under pytest or management
commands (they do not import asgi.py; tests that do are detected). Several server processes each
running them is safe: work is claimed with conditional updates.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_stop = threading.Event()


def should_start(setting: str = "RPA_EMBEDDED_SCHEDULER") -> bool:
    return bool(getattr(settings, setting)) and "pytest" not in sys.modules


def _scheduler() -> None:
    from tasks import scheduler

    scheduler.run_forever(stop=_stop)


def _dispatcher() -> None:
    from jobs import dispatcher

    dispatcher.run_forever(stop=_stop)


LOOPS: dict[str, tuple[str, Callable[[], None]]] = {
    "rpa-scheduler": ("RPA_EMBEDDED_SCHEDULER", _scheduler),
    "rpa-dispatcher": ("RPA_EMBEDDED_DISPATCHER", _dispatcher),
}


def _run(loop: Callable[[], None]) -> None:
    try:
        loop()
    finally:
        connection.close()


def start() -> threading.Thread | None:
    """Start each enabled loop once per process (idempotent); returns the scheduler's thread."""
    with _lock:
        for name, (setting, loop) in LOOPS.items():
            if not should_start(setting):
                continue
            thread = _threads.get(name)
            if thread is None or not thread.is_alive():
                _stop.clear()
                thread = _threads[name] = threading.Thread(target=_run, args=(loop,), name=name, daemon=True)
                thread.start()
                atexit.register(stop)
                logger.info("embedded %s started (%s=false turns it off)", name.removeprefix("rpa-"), setting)
    return _threads.get("rpa-scheduler")


def stop(timeout: float = 10) -> None:
    """Ask the loops to finish their pass and wait for them (called at interpreter exit)."""
    _stop.set()
    from jobs import dispatcher

    dispatcher.kick()
    for thread in list(_threads.values()):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
