"""`manage.py sync_roles [--reset]`: give the operator and viewer groups their default permissions."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from rpa_workbench import roles


class Command(BaseCommand):
    help = (
        "Create the operator and viewer groups if missing and add their default permissions. "
        "With --reset, set each to exactly its defaults, undoing permission edits made in the admin."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--reset", action="store_true", help="remove permissions that are not defaults")
        parser.add_argument("--database", default="default")

    def handle(self, *args, reset: bool, database: str, **options) -> None:
        roles.sync_roles(reset=reset, using=database)
        done = "reset to their defaults" if reset else "given their missing defaults"
        self.stdout.write(f"roles {', '.join(roles.ROLE_PERMISSIONS)} {done}")
