"""Create a first admin user when none exists (used by `make run`).

Honours DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD / DJANGO_SUPERUSER_EMAIL; without
a password it generates one and prints it once. The credentials are not stored anywhere else.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin user if there is no superuser yet."

    def handle(self, *args, **options):
        User = get_user_model()
        existing = list(User.objects.filter(is_superuser=True).order_by("pk").values_list("username", flat=True)[:3])
        if existing:
            names = ", ".join(existing)
            self.stdout.write(f"An admin user already exists ({names}); log in with its credentials.")
            self.stdout.write(
                f"  forgot the password? reset it with: .venv/bin/python manage.py changepassword {existing[0]}"
            )
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip() or "admin"
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "").strip() or "admin@example.com"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(self.style.SUCCESS("Created the first admin user."))
        self.stdout.write(f"  username: {username}")
        if generated:
            self.stdout.write(f"  password: {password}   (shown once: note it now)")
        else:
            self.stdout.write("  password: the one in DJANGO_SUPERUSER_PASSWORD")
