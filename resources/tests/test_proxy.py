"""API.md §7: the cloud proxy fetches allow-listed objects and streams them, within limits."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

import pytest

from resources import proxy
from resources.tests.upstream import redirect, send_body, send_chunked

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def proxied(client, url: str, endpoint: str = "proxy", **params):
    return client.get(f"/api/v1/resources/{endpoint}?{urlencode({'url': url, **params})}")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def serve_png(handler):
    send_body(
        handler, PNG, Content_Type="image/png", ETag='"abc123"', Last_Modified="Wed, 21 Jan 2026 06:30:00 GMT"
    )


def test_allow_listed_object_is_streamed_with_its_headers(viewer_client, upstream):
    upstream.routes["/shots/1.png"] = serve_png
    response = proxied(viewer_client, upstream.url("/shots/1.png"))
    assert response.status_code == 200
    assert response.streaming
    assert body_of(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(PNG))
    assert response["ETag"] == '"abc123"'
    assert response["Last-Modified"] == "Wed, 21 Jan 2026 06:30:00 GMT"
    assert response["Cache-Control"] == "public, max-age=1296000"
    assert response["Content-Disposition"] == "inline"


def test_query_string_and_unicode_object_names_reach_the_bucket(viewer_client, upstream):
    upstream.routes["/logs/%E6%97%A5%E5%BF%97.txt"] = lambda h: send_body(h, b"ok", Content_Type="text/plain")
    response = proxied(viewer_client, upstream.url("/logs/日志.txt") + "?Expires=1&Signature=a%2Bb")
    assert response.status_code == 200
    assert body_of(response) == b"ok"
    assert upstream.seen[-1]["path"] == "/logs/%E6%97%A5%E5%BF%97.txt?Expires=1&Signature=a%2Bb"


def test_body_reaches_the_client_before_the_upstream_has_finished(viewer_client, upstream):
    first = b"a" * (proxy.PREFETCH_BYTES + 10_000)

    def slow_tail(handler):
        def chunks():
            yield first
            upstream.release.wait(10)
            yield b"tail"

        send_chunked(handler, chunks())

    upstream.routes["/big.log"] = slow_tail
    try:
        response = proxied(viewer_client, upstream.url("/big.log"))
        assert response.status_code == 200  # answered while the upstream is still holding its tail
        parts = iter(response.streaming_content)
        received = b""
        while len(received) < len(first):
            received += next(parts)
        assert not upstream.release.is_set()
    finally:
        upstream.release.set()
    assert received + b"".join(parts) == first + b"tail"


def test_conditional_request_is_forwarded_and_304_passed_back(viewer_client, upstream):
    def conditional(handler):
        if handler.headers.get("If-None-Match") == '"abc123"':
            handler.send_response(304)
            handler.send_header("ETag", '"abc123"')
            handler.end_headers()
        else:
            serve_png(handler)

    upstream.routes["/shots/1.png"] = conditional
    url = f"/api/v1/resources/proxy?{urlencode({'url': upstream.url('/shots/1.png')})}"
    response = viewer_client.get(url, HTTP_IF_NONE_MATCH='"abc123"')
    assert response.status_code == 304
    assert response["ETag"] == '"abc123"'


def test_download_is_an_attachment_with_a_utf8_filename(viewer_client, upstream):
    upstream.routes["/logs/1.txt"] = lambda h: send_body(h, "完成".encode(), Content_Type="text/plain; charset=utf-8")
    response = proxied(viewer_client, upstream.url("/logs/1.txt"), "proxy/download", filename="运行日志 1月.txt")
    assert response.status_code == 200
    assert body_of(response) == "完成".encode()
    assert response["Cache-Control"] == "no-store"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''" + quote("运行日志 1月.txt", safe="") in disposition
    assert 'filename="' in disposition  # an ASCII fallback for old clients
    disposition.encode("latin-1")  # the header itself stays ASCII-safe


def test_download_without_filename_uses_the_object_name(viewer_client, upstream):
    upstream.routes["/logs/run-7.txt"] = lambda h: send_body(h, b"x")
    response = proxied(viewer_client, upstream.url("/logs/run-7.txt"), "proxy/download")
    assert response["Content-Disposition"] == 'attachment; filename="run-7.txt"'


def test_redirects_within_the_allow_list_are_followed(viewer_client, upstream):
    upstream.routes["/a"] = redirect("/b")
    upstream.routes["/b"] = redirect(upstream.url("/c"), 301)
    upstream.routes["/c"] = lambda h: send_body(h, b"final")
    response = proxied(viewer_client, upstream.url("/a"))
    assert response.status_code == 200
    assert body_of(response) == b"final"


def test_more_than_three_redirects_is_502(viewer_client, upstream):
    for n in range(5):
        upstream.routes[f"/r{n}"] = redirect(f"/r{n + 1}")
    upstream.routes["/r5"] = lambda h: send_body(h, b"never")
    response = proxied(viewer_client, upstream.url("/r0"))
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TOO_MANY_REDIRECTS"


def test_upstream_error_status_is_502_with_the_reason(viewer_client, upstream):
    response = proxied(viewer_client, upstream.url("/missing.png"))
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "UPSTREAM_ERROR"
    assert "404" in body["message"]
    assert "Traceback" not in response.content.decode()


def test_unreachable_upstream_is_502(viewer_client, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.1"]
    from rpa_workbench.testing.live_server import free_port

    response = proxied(viewer_client, f"http://127.0.0.1:{free_port()}/x.png")
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_UNREACHABLE"


def test_declared_length_over_the_limit_is_refused_before_reading(viewer_client, upstream, settings):
    settings.RPA_PROXY_MAX_BYTES = 1000
    upstream.routes["/big.png"] = lambda h: send_body(h, b"x" * 5000)
    response = proxied(viewer_client, upstream.url("/big.png"))
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TOO_LARGE"


def test_chunked_body_over_the_limit_is_refused(viewer_client, upstream, settings):
    settings.RPA_PROXY_MAX_BYTES = 1000
    upstream.routes["/chunked"] = lambda h: send_chunked(h, [b"x" * 600] * 5)
    response = proxied(viewer_client, upstream.url("/chunked"))
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TOO_LARGE"


def test_body_growing_past_the_limit_mid_stream_is_cut_off(viewer_client, upstream, settings):
    settings.RPA_PROXY_MAX_BYTES = proxy.PREFETCH_BYTES + 100_000
    upstream.routes["/endless"] = lambda h: send_chunked(h, [b"y" * 50_000] * 40)
    response = proxied(viewer_client, upstream.url("/endless"))
    assert response.status_code == 200  # headers were already sent when the limit broke
    received = 0
    with pytest.raises(proxy.UpstreamTooLarge):
        for chunk in response.streaming_content:
            received += len(chunk)
    assert received <= settings.RPA_PROXY_MAX_BYTES


def test_slow_upstream_times_out_as_502(viewer_client, upstream, settings):
    settings.RPA_PROXY_READ_TIMEOUT = 0.3

    def slow(handler):
        time.sleep(1.5)
        send_body(handler, b"late")

    upstream.routes["/slow"] = slow
    response = proxied(viewer_client, upstream.url("/slow"))
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TIMEOUT"


def test_trickling_upstream_hits_the_total_time_limit(viewer_client, upstream, settings):
    settings.RPA_PROXY_TOTAL_TIMEOUT = 0.3
    upstream.routes["/trickle"] = lambda h: send_chunked(h, [b"z"] * 20, pause=0.1)
    response = proxied(viewer_client, upstream.url("/trickle"))
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TIMEOUT"


def test_proxy_needs_authentication_without_a_signature(anon_client, upstream):
    upstream.routes["/shots/1.png"] = serve_png
    response = proxied(anon_client, upstream.url("/shots/1.png"))
    assert response.status_code == 401
    assert upstream.seen == []


def test_proxy_needs_the_view_permission(django_user_model, upstream):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    nobody = django_user_model.objects.create_user(username="nobody", password="pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(nobody)}")
    response = proxied(client, upstream.url("/shots/1.png"))
    assert response.status_code == 403
    assert upstream.seen == []


def test_images_requests_with_image_accept_headers_still_get_json_errors(viewer_client, upstream):
    url = f"/api/v1/resources/proxy?{urlencode({'url': upstream.url('/nope.png')})}"
    response = viewer_client.get(url, HTTP_ACCEPT="image/avif,image/webp")
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_ERROR"
