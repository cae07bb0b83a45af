"""Fixtures of the alerts tests: real local HTTP servers standing in for every channel."""

from __future__ import annotations

import pytest

from alerts.models import AlertEvent, Channel
from rpa_workbench.testing.relay import start_fake_relay
from rpa_workbench.testing.servers import stop


@pytest.fixture(autouse=True)
def _alert_settings(settings):
    settings.RPA_PUBLIC_URL = ""
    settings.RPA_ALERT_CONNECT_TIMEOUT = 1.0
    settings.RPA_ALERT_TIMEOUT = 1.0
    # The local fake receivers (127.0.0.1) stand in for on-premises ones: allow-listed here;
    # test_internal_addresses.py proves what happens without it.
    settings.RPA_ALERT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def receiver():
    """`receiver(path)` → a started local server (rpa_workbench.testing.relay.FakeRelay) whose
    `url` is `http://127.0.0.1:<port><path>`; set `.status`, `.body`, `.delay` to shape answers."""
    servers = []

    def start(path: str = "/hook"):
        fake, server = start_fake_relay()
        fake.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        servers.append(server)
        return fake

    yield start
    for server in servers:
        stop(server)


@pytest.fixture
def make_channel(db):
    def make(**fields) -> Channel:
        accounts = fields.pop("accounts", [])
        fields.setdefault("name", f"channel {Channel.objects.count() + 1}")
        fields.setdefault("kind", "webhook")
        fields.setdefault("target", "http://127.0.0.1:9/hook")
        fields.setdefault("events", list(AlertEvent.values))
        channel = Channel.objects.create(**fields)
        channel.accounts.set(accounts)
        return channel

    return make
