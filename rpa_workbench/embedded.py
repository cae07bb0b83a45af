"""Background loops embedded in the server process (the single-process default).

Started from asgi.py in daemon threads, so scheduled starts, watchdog transitions and alert
deliveries happen in the same process as the SSE connections that must see their events. Which
loops run is `settings.RPA_EMBEDDED_LOOPS` (thread name → the setting that turns it on, and the
function run with `stop=`), named by dotted string: this plumbing imports no domain app
(docs/architecture.md). Today: the scheduler and the presence sweep (off with
RPA_EMBEDDED_SCHEDULER=false: `manage.py run_scheduler` runs both), the Yingdao loop (with the
scheduler), the job dispatcher (RPA_EMBEDDED_DISPATCHER; `manage.py run_dispatcher`), the alert
delivery worker (RPA_EMBEDDED_ALERTS; `manage.py run_alerts`), the work queue worker
(RPA_EMBEDDED_WORKQUEUES; `manage.py run_workqueues`), and on PostgreSQL the event
sequencer's safety net (rpa_workbench.events.run_sequencer).
Never under pytest or management commands (they do not import asgi.py; tests that do are
detected). Several server processes each running them is safe: due work is claimed with
conditional updates. Every loop has one shape, `repeat` around its pass.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_stop = threading.Event()


def should_start(setting: str | None = "RPA_EMBEDDED_SCHEDULER") -> bool:
    """Whether a loop switched on by `setting` (None: always on) runs in this process."""
    return (setting is None or bool(getattr(settings, setting))) and "pytest" not in sys.modules


def loops() -> dict[str, tuple[str | None, str]]:
    """Thread name → (the setting that turns it on, the dotted path of its loop function)."""
    return {name: (setting, path) for name, (setting, path) in settings.RPA_EMBEDDED_LOOPS.items()}


def repeat(
    run_pass: Callable[[], object],
    *,
    name: str,
    interval: float,
    stop: threading.Event,
    sleep: Callable[[float], object] | None = None,
) -> None:
    """The shape of every background loop: until `stop` is set, one pass between fresh
    database connections (a failing pass is logged, never raised: the next one retries), then
    a sleep of `interval` — `stop.wait`, or the loop's own `sleep` when something else can wake
    it early (the dispatcher's kick; `RPA_EMBEDDED_WAKERS` wakes it at stop)."""
    logger.info("%s running (every %ss)", name, interval)
    sleep = sleep or stop.wait
    while not stop.is_set():
        close_old_connections()
        try:
            run_pass()
        except Exception:
            logger.exception("%s pass failed", name)
        finally:
            close_old_connections()
        sleep(interval)
    logger.info("%s stopped", name)


def _run(target: Callable[..., None]) -> None:
    try:
        target(stop=_stop)
    finally:
        connection.close()


def start() -> threading.Thread | None:
    """Start each enabled loop's thread once per process (idempotent); returns the scheduler's
    thread, None when it is disabled."""
    with _lock:
        for name, (setting, path) in loops().items():
            if not should_start(setting):
                continue
            thread = _threads.get(name)
            if thread is None or not thread.is_alive():
                _stop.clear()
                thread = threading.Thread(target=_run, args=(import_string(path),), name=name, daemon=True)
                _threads[name] = thread
                thread.start()
                atexit.register(stop)
                logger.info("embedded %s started%s", name, f" ({setting}=false turns it off)" if setting else "")
    return _threads.get("rpa-scheduler") if should_start() else None


def stop(timeout: float = 10) -> None:
    """Ask the loops to finish their pass and wait for them (called at interpreter exit). Loops
    that sleep on their own wake-up event are woken by `settings.RPA_EMBEDDED_WAKERS`."""
    _stop.set()
    for path in getattr(settings, "RPA_EMBEDDED_WAKERS", ()):
        import_string(path)()
    for thread in list(_threads.values()):
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
