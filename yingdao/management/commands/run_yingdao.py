"""`python manage.py run_yingdao [--once]`: the Yingdao loop (client sync, reconciliation) alone,
for deployments that run the background work outside the server (RPA_EMBEDDED_SCHEDULER=false)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from yingdao import loop


class Command(BaseCommand):
    help = "Sync robots from Yingdao's client/list and reconcile overdue Yingdao jobs."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, **opts):
        if opts["once"]:
            loop.run_once()
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            loop.run_forever(stop=stop)
        except KeyboardInterrupt:
            stop.set()
