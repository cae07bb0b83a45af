"""Issue 13 item 8: a proxied body that passes RPA_PROXY_MAX_BYTES mid-stream (after the 200 and
the first bytes were sent) is cut off with an aborted connection, at once: the client sees an
incomplete body, never a hang and never a body that looks complete."""

from __future__ import annotations

import time

import pytest
import requests

from resources.proxy import PREFETCH_BYTES
from resources.signing import signed_resource_url
from resources.tests.upstream import send_chunked, start_upstream
from rpa_workbench.testing.servers import stop

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

CAP = PREFETCH_BYTES + 300_000


@pytest.fixture
def bucket():
    upstream, server = start_upstream()
    yield upstream
    stop(server)


@pytest.fixture
def server(live_server_factory, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.1"]  # for signing here; the server gets the env var
    return live_server_factory(env={"RPA_PROXY_ALLOWED_HOSTS": "127.0.0.1", "RPA_PROXY_MAX_BYTES": str(CAP)})


def read_all(url: str) -> tuple[bytes, Exception | None, float]:
    started = time.monotonic()
    received = b""
    with requests.get(url, stream=True, timeout=(5, 20)) as response:
        assert response.status_code == 200
        try:
            for part in response.iter_content(65536):
                received += part
        except requests.RequestException as exc:
            return received, exc, time.monotonic() - started
    return received, None, time.monotonic() - started


def test_a_chunked_body_over_the_cap_is_aborted_at_once(server, bucket):
    bucket.routes["/huge.bin"] = lambda handler: send_chunked(handler, [b"x" * 65536] * 40, "application/octet-stream")
    received, error, elapsed = read_all(server.url + signed_resource_url(bucket.url("/huge.bin")))
    assert error is not None, f"the body ended normally after {len(received)} bytes"
    assert PREFETCH_BYTES <= len(received) <= CAP
    assert elapsed < 5, f"the client waited {elapsed:.1f}s for the end of the body"
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200  # the server goes on


def test_a_body_under_the_cap_still_arrives_whole(server, bucket):
    bucket.routes["/ok.bin"] = lambda handler: send_chunked(handler, [b"y" * 65536] * 6, "application/octet-stream")
    received, error, _ = read_all(server.url + signed_resource_url(bucket.url("/ok.bin")))
    assert error is None
    assert received == b"y" * 65536 * 6
