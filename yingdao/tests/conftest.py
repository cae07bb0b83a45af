"""Fixtures of the Yingdao tests: a fake Open API (a real local HTTP server) configured in settings."""

from __future__ import annotations

import pytest

from rpa_workbench.testing.servers import stop
from yingdao import client as client_module
from yingdao import limiter
from yingdao.testing import start_fake_yingdao
from yingdao.tests.helpers import deliver_in_process

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
    stop(server)


@pytest.fixture
def yingdao_task(fake_yingdao, make_account, make_task):
    fake_yingdao.deliver = deliver_in_process
    account = make_account(shadow_bot_account="ydbot", dispatch_backend="yingdao", yingdao_account_name="bot@corp")
    return make_task(
        account=account,
        app_name="export_orders",
        yingdao_robot_uuid="app-uuid-1",
        config_json='{"shop": "A", "days": 2}',
        priority="high",
    )


@pytest.fixture
def make_job_for(db):
    """A job of `task` as the dispatcher leaves it before calling the backend: dispatched."""
    from django.utils import timezone

    from jobs.tests.conftest import build_job

    return lambda task, status="dispatched", **fields: build_job(task, status, dispatched_at=timezone.now(), backend="yingdao", **fields)
