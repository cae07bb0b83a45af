"""Issue 13 item 3: wrong webhook secrets are throttled per client address (429
`TOO_MANY_REQUESTS` with `Retry-After`), counted in the database; a controllable clock."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import WEBHOOK_TOKEN
from rpa_workbench import throttling

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook/heartbeat"
BODY = {"shadow_bot_account": "bot_01", "app_name": "daily_report"}


@pytest.fixture
def now(monkeypatch, settings):
    settings.RPA_WEBHOOK_MAX_FAILURES_PER_ADDRESS = 4
    settings.RPA_AUTH_LOCKOUT_SECONDS = 120
    clock = {"now": timezone.now()}
    monkeypatch.setattr(throttling, "clock", lambda: clock["now"])
    return clock


def heartbeat(secret: str | None, address: str = "10.1.0.1"):
    client = APIClient()
    if secret is not None:
        client.credentials(HTTP_X_WEBHOOK_TOKEN=secret)
    return client.post(URL, BODY, format="json", REMOTE_ADDR=address)


def test_an_address_sending_wrong_secrets_is_locked_out_even_with_the_right_one(now):
    for _ in range(4):
        assert heartbeat("guess").status_code == 401
    refused = heartbeat(WEBHOOK_TOKEN)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "120"
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert heartbeat(WEBHOOK_TOKEN, address="10.1.0.2").status_code == 200


def test_the_lockout_ends(now):
    for _ in range(4):
        heartbeat("guess")
    now["now"] += datetime.timedelta(seconds=120)
    assert heartbeat(WEBHOOK_TOKEN).status_code == 200


def test_a_missing_secret_is_not_a_guess(now):
    for _ in range(10):
        assert heartbeat(None).status_code == 401
    assert heartbeat(WEBHOOK_TOKEN).status_code == 200


def test_wrong_secrets_for_config_files_count_too(now):
    for _ in range(4):
        APIClient().get("/api/v1/resources/configs/x.json", HTTP_X_WEBHOOK_TOKEN="guess", REMOTE_ADDR="10.1.0.1")
    assert heartbeat(WEBHOOK_TOKEN).status_code == 429
