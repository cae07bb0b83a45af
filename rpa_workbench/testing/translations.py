"""Compile the project's message catalogues for a test run when they are missing or stale.

`make test` compiles them (manage.py compilemessages); this keeps a bare `pytest` run honest too.
Needs GNU gettext's msgfmt; without it the catalogues stay as they are (the language tests fail
and say so).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
LOCALE_DIRS = (BASE_DIR / "locale", BASE_DIR / "django_locale_gaps")  # settings.LOCALE_PATHS


def ensure_compiled() -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        return
    for po in (po for locale_dir in LOCALE_DIRS for po in locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)], check=True)
