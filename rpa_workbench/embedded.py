"""The scheduler and the presence sweep embedded in the server process (the single-process default).

Started from asgi.py in a daemon thread, so scheduled starts and watchdog transitions publish
their events in the same process as the SSE connections that must see them. Off when
RPA_EMBEDDED_SCHEDULER=false (a separate `manage.py run_scheduler` runs instead), and never under
pytest or management commands (they do not import asgi.py; tests that do are detected). Several
server processes each running one is safe: due work is claimed with conditional updates.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_presence_thread: threading.Thread | None = None
_stop = threading.Event()


def should_start() -> bool:
    return bool(settings.RPA_EMBEDDED_SCHEDULER) and "pytest" not in sys.modules


def _run() -> None:
    from tasks import scheduler

    try:
        scheduler.run_forever(stop=_stop)
    finally:
        connection.close()


def _run_presence() -> None:
    from accounts import presence

    try:
        presence.run_forever(stop=_stop)
    finally:
        connection.close()


def start() -> threading.Thread | None:
    """Start the scheduler and presence threads once per process (idempotent); None when disabled."""
    global _thread, _presence_thread
    if not should_start():
        return None
    with _lock:
        if _thread is None or not _thread.is_alive():
            _stop.clear()
            _thread = threading.Thread(target=_run, name="rpa-scheduler", daemon=True)
            _thread.start()
            atexit.register(stop)
            logger.info("embedded scheduler started (RPA_EMBEDDED_SCHEDULER=false turns it off)")
        if _presence_thread is None or not _presence_thread.is_alive():
            _presence_thread = threading.Thread(target=_run_presence, name="rpa-presence", daemon=True)
            _presence_thread.start()
    return _thread


def stop(timeout: float = 10) -> None:
    """Ask the loop to finish its pass and wait for it (called at interpreter exit)."""
    _stop.set()
    for thread in (_thread, _presence_thread):
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
