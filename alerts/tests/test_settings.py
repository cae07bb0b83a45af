"""Email channels are configured by RPA_EMAIL_* (or DJANGO_EMAIL_*) variables; bad values stop
start-up with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

PRINT = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS, "
    "s.EMAIL_TIMEOUT, s.DEFAULT_FROM_EMAIL, s.RPA_PUBLIC_URL]))"
)


def _settings(**env):
    clean = {k: v for k, v in os.environ.items() if "EMAIL" not in k}
    return subprocess.run(
        [sys.executable, "-c", PRINT],
        env={**clean, "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings", "DJANGO_SECRET_KEY": "x", **env},
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60,
    )


def test_email_and_link_settings_come_from_the_environment():
    done = _settings(
        RPA_EMAIL_HOST="smtp.example.com", DJANGO_EMAIL_PORT="2525", DJANGO_EMAIL_HOST_USER="bot",
        RPA_EMAIL_USE_TLS="true", RPA_EMAIL_TIMEOUT="5", RPA_EMAIL_FROM="rpa@example.com",
        RPA_PUBLIC_URL="https://rpa.example.com/",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        "django.core.mail.backends.smtp.EmailBackend", "smtp.example.com", 2525, "bot", True, 5.0,
        "rpa@example.com", "https://rpa.example.com",
    ]


def test_a_bad_email_port_stops_start_up_saying_why():
    done = _settings(RPA_EMAIL_PORT="smtp")
    assert done.returncode != 0 and "RPA_EMAIL_PORT / DJANGO_EMAIL_PORT must be a number" in done.stderr
