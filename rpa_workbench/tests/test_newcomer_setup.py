"""`make run` for a newcomer: runtime dependencies only, and it says what is not configured."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = {"pytest", "pytest-django", "ruff", "playwright"}


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\[=<>~! ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_runtime_requirements_hold_no_test_or_lint_package():
    assert requirement_names(ROOT / "requirements.txt").isdisjoint(TEST_ONLY)


def test_dev_requirements_include_runtime_and_the_test_tools():
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    assert TEST_ONLY <= requirement_names(dev)


def dry_run(target: str, tmp_path: Path) -> str:
    """What `make <target>` would run in a fresh clone (a venv that does not exist yet)."""
    result = subprocess.run(
        ["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return result.stdout


def test_make_run_installs_only_the_runtime_requirements(tmp_path):
    commands = dry_run("run", tmp_path)
    assert "-r requirements.txt" in commands
    assert "requirements-dev" not in commands


def test_make_test_installs_the_dev_requirements(tmp_path):
    assert "-r requirements-dev.txt" in dry_run("test", tmp_path)


def test_make_run_explains_missing_relay_and_webhook_secret(settings):
    settings.RPA_RELAY_URL = ""
    settings.RPA_WEBHOOK_TOKEN = ""
    out = io.StringIO()
    call_command("setup_notes", stdout=out)
    text = out.getvalue()
    assert "RPA_RELAY_URL is not set" in text and "cannot be started or stopped" in text
    assert "RPA_WEBHOOK_TOKEN is not set" in text and "cannot report" in text
    assert "make demo" in text


def test_setup_notes_are_silent_when_configured(settings):
    settings.RPA_RELAY_URL = "http://relay.example/yingdao"
    settings.RPA_WEBHOOK_TOKEN = "s3cret-token"
    out = io.StringIO()
    call_command("setup_notes", stdout=out)
    assert out.getvalue() == ""


@pytest.mark.django_db
def test_ensure_admin_tells_how_to_reset_an_existing_admins_password():
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456")
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    assert "manage.py changepassword boss" in out.getvalue()
