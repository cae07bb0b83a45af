"""`python manage.py run_scheduler`: the scheduler + watchdog loop as its own process.

Use it with RPA_EMBEDDED_SCHEDULER=false on the servers (or alongside them: several schedulers
are safe). `--once` runs a single pass, e.g. from cron.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import presence
from jobs import scheduler


class Command(BaseCommand):
    help = "Start due scheduled tasks and mark silent running tasks lost, every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between passes (RPA_SCHEDULER_INTERVAL)")
        parser.add_argument("--once", action="store_true", help="run one pass and exit")

    def handle(self, *args, interval=None, once=False, **options):
        if once:
            self.stdout.write(f"scheduler pass: {scheduler.run_once()}")
            self.stdout.write(f"presence sweep: {len(presence.sweep_presence())} robot(s) went offline")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        interval = settings.RPA_SCHEDULER_INTERVAL if interval is None else interval
        # The presence sweep too, as the embedded loop does (rpa_workbench/embedded.py).
        threading.Thread(target=presence.run_forever, kwargs={"stop": stop, "interval": interval}, daemon=True).start()
        self.stdout.write(f"scheduler running every {interval}s; Ctrl-C to stop")
        scheduler.run_forever(interval=interval, stop=stop)
