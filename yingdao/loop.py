"""The Yingdao background loop: client/list sync (presence) and reconciliation of overdue jobs.

Embedded in the server process with the scheduler (rpa_workbench/embedded.py; off with
RPA_EMBEDDED_SCHEDULER=false), or alone with `manage.py run_yingdao`. Each pass is claimed in the
database (yingdao.claims), so several processes side by side run it once per period. Idle (no
call to Yingdao at all) while the access key is not configured.
"""

from __future__ import annotations

import logging
import threading

from django.apps import apps

from rpa_workbench import embedded
from yingdao import clients_sync
from yingdao.client import is_configured

logger = logging.getLogger(__name__)

# Seconds between checks of what is due (each pass has its own period).
TICK = 5.0


def run_once() -> None:
    if not is_configured():
        return
    try:
        clients_sync.run_due()
    except Exception:
        logger.exception("yingdao: client sync failed")
    if apps.is_installed("jobs"):
        from yingdao import reconcile

        try:
            reconcile.run_due()
        except Exception:
            logger.exception("yingdao: reconciliation failed")


def run_forever(*, stop: threading.Event | None = None, tick: float = TICK) -> None:
    embedded.repeat(run_once, name="yingdao loop (client sync, reconciliation)", interval=tick, stop=stop or threading.Event())
