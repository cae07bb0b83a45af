"""API.md §8: /health, docs and the OpenAPI schema, anonymous."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_health_reports_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "connected"
    assert body["version"]
    assert body["sse"] == "running"


def test_health_is_503_when_database_unreachable(client, monkeypatch):
    from rpa_workbench import views

    class BrokenConnection:
        def cursor(self):
            raise OSError("db down")

    monkeypatch.setattr(views, "connection", BrokenConnection())
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_openapi_schema_is_public_and_lists_accounts(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/accounts" in response.json()["paths"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_are_served_offline(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html


def _django_check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_overrides}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG"),
        ("RPA_ROBOT_TIMEZONE", "Mars/Base", "RPA_ROBOT_TIMEZONE"),
        ("RPA_RELAY_TIMEOUT", "soon", "RPA_RELAY_TIMEOUT"),
        ("CORS_ALLOWED_ORIGINS", "*", "CORS_ALLOWED_ORIGINS"),
    ],
)
def test_bad_settings_fail_at_start_up_with_a_clear_message(name, value, says):
    result = _django_check({name: value, "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert says in result.stderr


def test_secret_key_is_generated_once_and_reused(tmp_path):
    env = {"RPA_VAR_DIR": str(tmp_path), "DJANGO_SECRET_KEY": ""}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env={**os.environ, **env,
                           "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings"}, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env={**os.environ, **env,
                            "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings"}, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == second.stdout.strip()
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/tasks/{id}/start" in schema and "/api/v1/tasks/{id}/control-requests" in schema
