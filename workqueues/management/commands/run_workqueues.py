"""`python manage.py run_workqueues`: the work queue worker alone (set RPA_EMBEDDED_WORKQUEUES=false
on the servers). Safe beside other workers: every part claims its work with conditional updates."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from workqueues import worker


class Command(BaseCommand):
    help = "Run the work queue worker: queue triggers, abandoned items, SLA alerts, queue_updated events."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between passes")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, **opts):
        if opts["once"]:
            summary = worker.run_once()
            self.stdout.write(f"{summary}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            worker.run_forever(interval=opts["interval"], stop=stop)
        except KeyboardInterrupt:
            stop.set()
