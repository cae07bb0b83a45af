"""Fixtures shared by every app's tests."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from rpa_workbench import roles
from rpa_workbench.testing import browser as browser_setup
from rpa_workbench.testing import factories, translations
from rpa_workbench.testing.live_server import start_daphne
from rpa_workbench.testing.relay import start_fake_relay
from rpa_workbench.testing.servers import stop

WEBHOOK_TOKEN = "test-webhook-secret"


def pytest_sessionstart(session):
    translations.ensure_compiled()  # the .mo files are built, not committed


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Known secrets and a private media root for every test."""
    settings.RPA_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RPA_RELAY_URL = ""
    # The dispatcher sends in the calling thread: a test's transaction is invisible to others.
    settings.RPA_DISPATCHER_THREADS = 0


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language: a request through the test client leaves its
    language active in the worker's thread, which made later tests depend on the order they ran."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_read_cache():
    """Cached reads start empty: a rolled-back test's event positions are given again."""
    from django.conf import settings
    from django.core.cache import caches

    caches[settings.RPA_LIST_CACHE_ALIAS].clear()


@pytest.fixture
def keyed_by_events_only(monkeypatch):
    """One moment in the cached reads' keys: a key then moves only with the newest event."""
    from rpa_workbench import list_cache

    monkeypatch.setattr(list_cache, "moment_bucket", lambda view: 0)


def _user(django_user_model, username: str, role: str | None = None, **extra):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)
    if role:
        if not Group.objects.filter(name=role).exists():
            roles.sync_roles()  # a transactional test's flush emptied the groups the migration made
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(django_user_model):
    return _user(django_user_model, "root", is_staff=True, is_superuser=True)


@pytest.fixture
def operator_user(django_user_model):
    return _user(django_user_model, "operator1", roles.OPERATOR)


@pytest.fixture
def viewer_user(django_user_model):
    return _user(django_user_model, "viewer1", roles.VIEWER)


def _admin_login(client, user):
    """The admin site lets in staff only; the role (group) decides what they may do there."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return client


@pytest.fixture
def root(client, admin_user):
    """A browser client logged into the admin as the superuser."""
    client.force_login(admin_user)
    return client


@pytest.fixture
def operator(client, operator_user):
    """A browser client logged into the admin as a (staff) operator."""
    return _admin_login(client, operator_user)


@pytest.fixture
def viewer(client, viewer_user):
    """A browser client logged into the admin as a (staff) viewer."""
    return _admin_login(client, viewer_user)


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def admin_client_api(admin_user) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def operator_client(operator_user) -> APIClient:
    return _client_for(operator_user)


@pytest.fixture
def viewer_client(viewer_user) -> APIClient:
    return _client_for(viewer_user)


@pytest.fixture
def robot_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_WEBHOOK_TOKEN=WEBHOOK_TOKEN)
    return client


@pytest.fixture
def make_account(db):
    return factories.make_account


@pytest.fixture
def make_task(db):
    return factories.make_task


@pytest.fixture
def make_log(db):
    return factories.make_log


@pytest.fixture
def published_events(monkeypatch):
    """What `rpa_workbench.events` hands to the event backend after commit: (type, data) pairs."""
    from rpa_workbench import events

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        events, "hand_over", lambda rows: sent.extend((row.type, json.loads(row.data)["data"]) for row in rows)
    )
    return sent


@pytest.fixture
def fake_relay(settings):
    """A local HTTP relay; settings.RPA_RELAY_URL points at it."""
    relay, server = start_fake_relay()
    settings.RPA_RELAY_URL = relay.url
    yield relay
    stop(server)


@pytest.fixture
def live_server_factory(transactional_db, tmp_path, settings):
    """Start the real app under Daphne (subprocess) on the test database: `start(env={...})`."""
    servers = []

    def start(env: dict[str, str] | None = None):
        base_env = {"RPA_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "RPA_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
        server = start_daphne(tmp_path, {**base_env, **(env or {})})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def browser(monkeypatch):
    """Headless Chromium (rpa_workbench/testing/browser.py); list it after the data fixtures."""
    yield from browser_setup.launched_chromium(monkeypatch)
