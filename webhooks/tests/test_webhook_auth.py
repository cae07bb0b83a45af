"""API.md §0/§5: robots authenticate with the shared webhook secret; never open by default."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from conftest import WEBHOOK_TOKEN
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "/api/v1/webhook/confirm": {
        "shadow_bot_account": "bot_01",
        "app_name": "daily_report",
        "action": "START",
    },
    "/api/v1/webhook/execution-complete": {
        "shadow_bot_account": "bot_01",
        "app_name": "daily_report",
        "status": "completed",
        "start_time": "2026-01-21T14:30:00+08:00",
    },
    "/api/v1/webhook/heartbeat": {"shadow_bot_account": "bot_01", "app_name": "daily_report"},
}


@pytest.mark.parametrize("url", ENDPOINTS)
def test_missing_token_is_401(anon_client, url):
    response = anon_client.post(url, ENDPOINTS[url], format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("header", ["HTTP_X_WEBHOOK_TOKEN", "HTTP_AUTHORIZATION"])
def test_wrong_token_is_401(url, header):
    client = APIClient()
    value = "wrong-secret" if header == "HTTP_X_WEBHOOK_TOKEN" else "Bearer wrong-secret"
    client.credentials(**{header: value})
    assert client.post(url, ENDPOINTS[url], format="json").status_code == 401


@pytest.mark.parametrize("url", ENDPOINTS)
def test_bearer_secret_is_accepted(url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {WEBHOOK_TOKEN}")
    assert client.post(url, ENDPOINTS[url], format="json").status_code == 200


def test_a_user_jwt_is_not_a_webhook_secret(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/webhook/execution-complete", ENDPOINTS["/api/v1/webhook/execution-complete"], format="json"
    )
    assert response.status_code == 401
    assert not ExecutionLog.objects.exists()


@pytest.mark.parametrize("url", ENDPOINTS)
def test_unconfigured_secret_refuses_every_call_saying_how_to_configure(settings, robot_client, url):
    settings.RPA_WEBHOOK_TOKEN = ""
    response = robot_client.post(url, ENDPOINTS[url], format="json")
    assert response.status_code == 503
    assert "RPA_WEBHOOK_TOKEN" in response.json()["message"]


def test_unconfigured_secret_refuses_even_an_empty_token(settings):
    settings.RPA_WEBHOOK_TOKEN = ""
    client = APIClient()
    client.credentials(HTTP_X_WEBHOOK_TOKEN="")
    url = "/api/v1/webhook/execution-complete"
    assert client.post(url, ENDPOINTS[url], format="json").status_code == 503
    assert not ExecutionLog.objects.exists()


def test_the_secret_is_compared_in_constant_time(robot_client, monkeypatch):
    from rpa_workbench import robot_auth

    compared: list[tuple[bytes, bytes]] = []
    real = robot_auth.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(robot_auth.hmac, "compare_digest", spy)
    url = "/api/v1/webhook/heartbeat"
    assert robot_client.post(url, ENDPOINTS[url], format="json").status_code == 200
    assert compared == [(WEBHOOK_TOKEN.encode(), WEBHOOK_TOKEN.encode())]


def test_x_webhook_token_header_is_accepted(robot_client):
    url = "/api/v1/webhook/execution-complete"
    assert robot_client.post(url, ENDPOINTS[url], format="json").status_code == 200
    assert ExecutionLog.objects.count() == 1
