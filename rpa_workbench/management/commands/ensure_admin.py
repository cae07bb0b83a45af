"""Create a first admin user when none exists (used by `make run`).

Honours DJANGO_SUPERUSER_USERNAME / DJANGO_SUPERUSER_PASSWORD / DJANGO_SUPERUSER_EMAIL; without
a password it generates one and prints it once. The credentials are not stored anywhere else.
A given password must pass Django's password validators (AUTH_PASSWORD_VALIDATORS), like any
password set in the admin: `DJANGO_SUPERUSER_PASSWORD=1` is refused, naming every rule it breaks.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, no_translations


class Command(BaseCommand):
    help = "Create the first admin user if there is no superuser yet."

    @no_translations  # a terminal message in one language, whichever one a caller left active
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
        try:
            validate_password(password, user=User(username=username, email=email))
        except ValidationError as exc:
            rules = " ".join(exc.messages)
            raise CommandError(
                f"DJANGO_SUPERUSER_PASSWORD is refused: {rules} Choose a longer passphrase, or unset "
                "DJANGO_SUPERUSER_PASSWORD to have one generated. No admin user was created."
            ) from None
        User.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(self.style.SUCCESS("Created the first admin user."))
        self.stdout.write(f"  username: {username}")
        if generated:
            self.stdout.write(f"  password: {password}   (shown once: note it now)")
        else:
            self.stdout.write("  password: the one in DJANGO_SUPERUSER_PASSWORD")
