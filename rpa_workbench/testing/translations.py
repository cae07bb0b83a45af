"""Compile the project's message catalogues for a test run when they are missing or stale.

`make test` compiles them (manage.py compilemessages); this keeps a bare `pytest` run honest too.
Needs GNU gettext's msgfmt; without it the catalogues stay as they are (the language tests fail
and say so).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from django.conf import settings


def ensure_compiled() -> None:
    """Every catalogue of settings.LOCALE_PATHS (ours, and what Django's own Chinese lacks)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        return
    for po in (po for locale_dir in settings.LOCALE_PATHS for po in Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)], check=True)
