"""Fixtures of the Yingdao tests: a fake Open API (a real local HTTP server) configured in settings."""

from __future__ import annotations

import pytest

from yingdao import client as client_module
from yingdao import limiter
from yingdao.testing import start_fake_yingdao

KEY_ID = "test-key-id"
KEY_SECRET = "test-key-secret-do-not-log"


@pytest.fixture
def fresh_limiter(monkeypatch):
    """A process limiter of this test's own, so earlier tests' calls do not slow it down."""
    fresh = limiter.Limiter()
    monkeypatch.setattr(limiter, "_shared", fresh)
    return fresh


@pytest.fixture
def fake_yingdao(settings, fresh_limiter, monkeypatch):
    """A fake tenant; settings point the client at it, with an empty token cache."""
    monkeypatch.setattr(client_module, "_token_cache", client_module.TokenCache())
    fake, server = start_fake_yingdao(key_id=KEY_ID, key_secret=KEY_SECRET)
    settings.RPA_YINGDAO_API_URL = fake.url
    settings.RPA_YINGDAO_ACCESS_KEY_ID = KEY_ID
    settings.RPA_YINGDAO_ACCESS_KEY_SECRET = KEY_SECRET
    settings.RPA_YINGDAO_TIMEOUT = 5.0
    settings.RPA_PUBLIC_URL = "http://testserver"
    yield fake
    server.shutdown()
    server.server_close()
