from __future__ import annotations

import pytest

from resources.tests.upstream import start_upstream
from rpa_workbench.testing.servers import stop


@pytest.fixture
def upstream(settings):
    """A local "bucket"; the exact host 127.0.0.1 is allow-listed so the proxy may reach it."""
    bucket, server = start_upstream()
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.1"]
    yield bucket
    stop(server)
