"""`python manage.py alert_receiver --port 18900 [--secret S]`: print every webhook alert it
receives and whether its signature verifies (the demo's receiver; see alerts/receiver.py)."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from alerts.receiver import make_server


class Command(BaseCommand):
    help = "A local webhook receiver that prints the alerts it gets and checks their signature."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=18900)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--secret", default=None, help="shared secret (default: $RPA_DEMO_ALERT_SECRET); empty = no check"
        )

    def handle(self, *args, port, host, secret, **options):
        secret = os.environ.get("RPA_DEMO_ALERT_SECRET", "") if secret is None else secret
        server = make_server(port, secret, lambda text: (self.stdout.write(text), self.stdout.flush()), host)
        self.stdout.write(f"alert receiver on http://{host}:{port}/ (signature check {'on' if secret else 'off'})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
