"""Under the real ASGI server (Daphne) bodies are streamed, not buffered: the first bytes reach
the browser while the bucket is still sending, and stored files arrive in ranges."""

from __future__ import annotations

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from resources.proxy import PREFETCH_BYTES
from resources.signing import signed_resource_url
from resources.tests.upstream import send_chunked, start_upstream
from rpa_workbench.testing.servers import stop

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bucket():
    upstream, server = start_upstream()
    yield upstream
    upstream.release.set()
    stop(server)


def test_proxy_streams_under_daphne(live_server_factory, bucket, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.1"]  # for signing here; the server gets the env var
    server = live_server_factory(env={"RPA_PROXY_ALLOWED_HOSTS": "127.0.0.1"})
    head = b"h" * (PREFETCH_BYTES + 200_000)

    def slow_tail(handler):
        def chunks():
            yield head
            bucket.release.wait(15)
            yield b"tail"

        send_chunked(handler, chunks(), content_type="text/plain")

    bucket.routes["/big.log"] = slow_tail
    url = signed_resource_url(bucket.url("/big.log"))
    with requests.get(server.url + url, stream=True, timeout=10) as response:
        assert response.status_code == 200
        received = b""
        parts = response.iter_content(65536)
        while len(received) < len(head):
            received += next(parts)
        assert not bucket.release.is_set()  # all of that arrived while the bucket still held its tail
        bucket.release.set()
        received += b"".join(parts)
    assert received == head + b"tail"


def test_stored_file_range_under_daphne(live_server_factory):
    server = live_server_factory()
    name = default_storage.save("logs/live.log", ContentFile(b"0123456789" * 1000))
    url = server.url + signed_resource_url(name)
    response = requests.get(url, headers={"Range": "bytes=5-14"}, timeout=10)
    assert response.status_code == 206
    assert response.content == b"5678901234"
    assert len(requests.get(url, timeout=10).content) == 10_000
