"""Background loops embedded in the server process (the single-process default).

Started from asgi.py in daemon threads, so scheduled starts, watchdog transitions and alert
deliveries happen in the same process as the SSE connections that must see their events:
- the scheduler (tasks/scheduler.py) and the presence sweep (accounts/presence.py), off when
  RPA_EMBEDDED_SCHEDULER=false (a separate `manage.py run_scheduler` runs both instead);
- the Yingdao loop (yingdao/loop.py: client sync, reconciliation), with the scheduler
  (`manage.py run_yingdao` alone);
- the job dispatcher (jobs/dispatcher.py: queue, sends, job timeouts), off when
  RPA_EMBEDDED_DISPATCHER=false (`manage.py run_dispatcher` runs instead);
- the alert delivery worker (alerts/worker.py), off when RPA_EMBEDDED_ALERTS=false
  (`manage.py run_alerts` runs instead).
Never under pytest or management commands (they do not import asgi.py; tests that do are
detected). Several server processes each running them is safe: due work is claimed with
conditional updates.
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


def _run_scheduler() -> None:
    from tasks import scheduler

    scheduler.run_forever(stop=_stop)


def _run_presence() -> None:
    from accounts import presence

    presence.run_forever(stop=_stop)


def _run_yingdao() -> None:
    from yingdao import loop

    loop.run_forever(stop=_stop)


def _run_dispatcher() -> None:
    from jobs import dispatcher

    dispatcher.run_forever(stop=_stop)


def _run_alerts() -> None:
    from alerts.worker import Worker

    Worker().run_forever(stop=_stop)


LOOPS: dict[str, tuple[str, Callable[[], None]]] = {
    "rpa-scheduler": ("RPA_EMBEDDED_SCHEDULER", _run_scheduler),
    # Presence flips go with the scheduler: a separate `run_scheduler` runs the sweep too.
    "rpa-presence": ("RPA_EMBEDDED_SCHEDULER", _run_presence),
    "rpa-dispatcher": ("RPA_EMBEDDED_DISPATCHER", _run_dispatcher),
    "rpa-alerts": ("RPA_EMBEDDED_ALERTS", _run_alerts),
    # Yingdao client sync and reconciliation (idle without an access key); `run_yingdao` alone.
    "rpa-yingdao": ("RPA_EMBEDDED_SCHEDULER", _run_yingdao),
}


def _run(target: Callable[[], None]) -> None:
    try:
        target()
    finally:
        connection.close()


def start() -> threading.Thread | None:
    """Start each enabled loop's thread once per process (idempotent); returns the scheduler's
    thread, None when it is disabled."""
    with _lock:
        for name, (setting, target) in LOOPS.items():
            if not should_start(setting):
                continue
            thread = _threads.get(name)
            if thread is None or not thread.is_alive():
                _stop.clear()
                thread = threading.Thread(target=_run, args=(target,), name=name, daemon=True)
                _threads[name] = thread
                thread.start()
                atexit.register(stop)
                logger.info("embedded %s started (%s=false turns it off)", name, setting)
    return _threads.get("rpa-scheduler") if should_start() else None


def stop(timeout: float = 10) -> None:
    """Ask the loops to finish their pass and wait for them (called at interpreter exit)."""
    _stop.set()
    from jobs import wakeup

    wakeup.kick()  # the dispatcher's loop sleeps on its own wake-up event
    for thread in list(_threads.values()):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
