"""`python manage.py run_alerts`: the alert delivery worker as its own process.

Use it with RPA_EMBEDDED_ALERTS=false on the servers (or alongside them: several workers are
safe). `--once` sends what is due now, one after another, and exits."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from alerts import worker


class Command(BaseCommand):
    help = "Send due alert deliveries every --interval seconds (retrying failures with backoff)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="seconds between looks (RPA_ALERT_INTERVAL)")
        parser.add_argument("--once", action="store_true", help="send what is due now and exit")

    def handle(self, *args, interval=None, once=False, **options):
        if once:
            statuses = worker.run_once()
            self.stdout.write(f"alert deliveries: {len(statuses)} attempted, {statuses.count('sent')} sent")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("alert worker running; Ctrl-C to stop")
        worker.Worker().run_forever(stop=stop, interval=interval)
