"""`python manage.py setup_notes`: what `make run` tells a newcomer about their configuration.

Says which robot-facing settings are missing and what that disables, so a first run that
cannot start robots explains why instead of failing later with a 503.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


def setup_notes() -> list[str]:
    """The lines to show: one per missing setting, then where to go next."""
    notes = []
    if not settings.RPA_RELAY_URL:
        notes.append(
            "RPA_RELAY_URL is not set: robots cannot be started or stopped "
            "(every start and stop, scheduled ones included, fails with 503 RELAY_NOT_CONFIGURED)."
        )
    if not settings.RPA_WEBHOOK_TOKEN:
        notes.append(
            "RPA_WEBHOOK_TOKEN is not set: robots cannot report (confirm, heartbeat, execution-complete "
            "and config/get answer 503 WEBHOOK_NOT_CONFIGURED), so no robot comes online."
        )
    if notes:
        notes.append("To see everything working without real robots, run `make demo` (simulated robots).")
        notes.append("To connect real robots, see README.md, 'Connecting real robots'.")
    return notes


class Command(BaseCommand):
    help = "Explain which robot-facing settings are missing and what that disables."

    def handle(self, *args, **options):
        for line in setup_notes():
            self.stdout.write(self.style.WARNING(line) if "not set" in line else line)
