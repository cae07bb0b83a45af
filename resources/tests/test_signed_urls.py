"""Signed, expiring URLs: `<img src>` works without headers, for a while, for that object only."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signing import TimestampSigner

from resources.signing import Kind, make_signature, signed_resource_url
from resources.tests.upstream import send_body

pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def later(seconds: float):
    """Move the signer's clock forward (Django's TimestampSigner reads time.time())."""
    import time

    now = time.time()
    return mock.patch("django.core.signing.time.time", return_value=now + seconds)


def test_signed_proxy_url_works_without_auth_then_expires(anon_client, upstream, settings):
    upstream.routes["/shots/1.png"] = lambda h: send_body(h, b"png!", Content_Type="image/png")
    settings.RPA_SIGNED_URL_MAX_AGE = 60
    url = signed_resource_url(upstream.url("/shots/1.png"))
    assert url.startswith("/api/v1/resources/proxy?url=")
    response = anon_client.get(url)
    assert response.status_code == 200
    assert body_of(response) == b"png!"
    with later(61):
        expired = anon_client.get(url)
    assert expired.status_code == 403
    assert expired.json()["code"] == "SIGNATURE_EXPIRED"


def test_signed_download_url_is_an_attachment(anon_client, upstream):
    upstream.routes["/logs/1.txt"] = lambda h: send_body(h, b"log")
    url = signed_resource_url(upstream.url("/logs/1.txt"), download=True)
    assert url.startswith("/api/v1/resources/proxy/download?")
    response = anon_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="1.txt"'


def test_tampered_signature_or_object_is_refused(anon_client, upstream):
    upstream.routes["/shots/1.png"] = lambda h: send_body(h, b"one")
    upstream.routes["/shots/2.png"] = lambda h: send_body(h, b"two")
    url = signed_resource_url(upstream.url("/shots/1.png"))
    other_object = url.replace("1.png", "2.png")
    bad_signature = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    for forged in (other_object, bad_signature):
        response = anon_client.get(forged)
        assert response.status_code == 403
        assert response.json()["code"] == "SIGNATURE_INVALID"
    assert upstream.seen == []


def test_a_file_signature_does_not_open_the_proxy(anon_client, upstream):
    upstream.routes["/x"] = lambda h: send_body(h, b"x")
    sig = make_signature(Kind.FILE, upstream.url("/x"))
    response = anon_client.get("/api/v1/resources/proxy", {"url": upstream.url("/x"), "sig": sig})
    assert response.status_code == 403
    assert upstream.seen == []


def test_signed_file_url_works_without_auth_then_expires(anon_client, settings):
    name = default_storage.save("shots/bot_01/1.png", ContentFile(b"\x89PNG"))
    settings.RPA_SIGNED_URL_MAX_AGE = 30
    url = signed_resource_url(name)
    assert url.startswith(f"/api/v1/resources/{name}?sig=")
    response = anon_client.get(url)
    assert response.status_code == 200
    assert body_of(response) == b"\x89PNG"
    with later(31):
        assert anon_client.get(url).status_code == 403
    assert anon_client.get(url.replace("1.png", "2.png")).status_code == 403


def test_signature_is_for_the_resources_salt_only(anon_client):
    name = default_storage.save("shots/1.png", ContentFile(b"x"))
    other_salt = TimestampSigner().sign(name)[len(name) + 1 :]
    response = anon_client.get(f"/api/v1/resources/{name}", {"sig": other_salt})
    assert response.status_code == 403


def test_expired_signature_does_not_stop_a_logged_in_reader(viewer_client):
    name = default_storage.save("shots/1.png", ContentFile(b"x"))
    url = signed_resource_url(name)
    with later(10**6):
        assert viewer_client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("value", "expected_prefix"),
    [
        (None, None),
        ("", None),
        ("shots/1.png", "/api/v1/resources/shots/1.png?sig="),
        ("/api/v1/resources/shots/1.png", "/api/v1/resources/shots/1.png?sig="),
        ("../etc/passwd", None),
        ("C:\\robot\\shots\\1.png", None),
        ("/var/log/robot.log", None),
        ("ftp://bucket.oss-cn-shenzhen.aliyuncs.com/1.png", None),
        ("https://evil.example.com/1.png", None),
        ("http://[broken/1.png", None),
        ("https://bucket.oss-cn-shenzhen.aliyuncs.com:99999/1.png", None),
        ("https://bucket.oss-cn-shenzhen.aliyuncs.com/shots/1.png", "/api/v1/resources/proxy?url=https%3A%2F%2F"),
    ],
)
def test_signed_resource_url_for_log_fields(settings, value, expected_prefix):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["*.aliyuncs.com"]
    url = signed_resource_url(value)
    if expected_prefix is None:
        assert url is None
    else:
        assert url.startswith(expected_prefix)
        assert "sig=" in url


def test_cloud_urls_get_no_signed_url_while_the_proxy_is_disabled(settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = []
    assert signed_resource_url("https://bucket.oss-cn-shenzhen.aliyuncs.com/1.png") is None
