"""`python manage.py run_dispatcher`: the job dispatcher (queue, sends, job timeouts) alone.

Use it with RPA_EMBEDDED_DISPATCHER=false on the servers, or alongside them: several dispatchers
are safe. `--once` runs a single pass and waits for its sends.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs import dispatcher, wakeup


class Command(BaseCommand):
    help = "Dispatch queued jobs to their robots and apply the job timeouts, every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between sweeps (RPA_DISPATCHER_INTERVAL)")
        parser.add_argument("--once", action="store_true", help="run one pass and exit")

    def handle(self, *args, interval=None, once=False, **options):
        if once:
            summary = dispatcher.run_once(wait_for_sends=True)
            self.stdout.write(f"dispatcher pass: sent={len(summary.sent)} failed={len(summary.failed)} timed_out={len(summary.timed_out)}")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: (stop.set(), wakeup.kick()))
        interval = settings.RPA_DISPATCHER_INTERVAL if interval is None else interval
        self.stdout.write(f"dispatcher running (sweep every {interval}s); Ctrl-C to stop")
        dispatcher.run_forever(interval=interval, stop=stop)
