"""The proxy is not an open proxy: schemes, hosts and addresses it must refuse (API.md §7)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlencode

import pytest

from resources.tests.upstream import redirect, send_body
from rpa_workbench import outbound

pytestmark = pytest.mark.django_db

REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.100",
    "169.254.169.254",  # cloud metadata
    "169.254.170.2",
    "100.100.100.200",  # Aliyun metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS IPv6 metadata
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo of 10.0.0.1
    "::127.0.0.1",  # IPv4-compatible
]


def proxied(client, url: str):
    return client.get(f"/api/v1/resources/proxy?{urlencode({'url': url})}")


def literal_url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}/shot.png"


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_every_non_public_address_has_a_refusal_reason(address):
    assert outbound.refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["47.112.1.1", "8.8.8.8", "2408:4000::1", "2002:2f70:101::1"])
def test_public_addresses_are_fine(address):
    assert outbound.refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_literal_non_public_address_is_refused_even_when_a_glob_matches(viewer_client, settings, address):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["*"]
    response = proxied(viewer_client, literal_url(address))
    assert response.status_code == 403, address
    assert response.json()["code"] == "PROXY_ADDRESS_REFUSED"


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "017700000001"])
def test_numeric_spellings_of_loopback_are_refused_after_resolution(viewer_client, settings, host):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["*"]
    response = proxied(viewer_client, f"http://{host}/x")
    assert response.status_code in (403, 502), host  # refused, or not resolvable at all
    if response.status_code == 403:
        assert response.json()["code"] == "PROXY_ADDRESS_REFUSED"


def test_glob_matching_loopback_does_not_open_it(viewer_client, upstream, settings):
    upstream.routes["/shot.png"] = lambda h: send_body(h, b"secret")
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.*", "local*"]
    for url in (upstream.url("/shot.png"), upstream.url("/shot.png", host="localhost")):
        response = proxied(viewer_client, url)
        assert response.status_code == 403
        assert response.json()["code"] == "PROXY_ADDRESS_REFUSED"
    assert upstream.seen == []


def test_host_resolving_to_a_private_address_is_refused(viewer_client, settings, monkeypatch):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["*.oss.example.com"]
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: ["93.184.216.34", "10.1.2.3"])
    response = proxied(viewer_client, "https://bucket.oss.example.com/shot.png")
    assert response.status_code == 403
    assert "10.1.2.3" in response.json()["message"]


def test_connection_goes_to_the_checked_address_with_the_original_host(viewer_client, upstream, settings, monkeypatch):
    """No DNS-rebinding window: the name is resolved once and the checked address is used."""
    upstream.routes["/shot.png"] = lambda h: send_body(h, b"pinned")
    settings.RPA_PROXY_ALLOWED_HOSTS = ["files.intranet.test"]  # exact entry: private address allowed
    lookups = []

    def dns(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(outbound, "resolve_host", dns)
    response = proxied(viewer_client, f"http://files.intranet.test:{upstream.port}/shot.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"pinned"
    assert lookups == ["files.intranet.test"]
    assert upstream.seen[0]["headers"]["Host"] == f"files.intranet.test:{upstream.port}"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//127.0.0.1/x",
        "/etc/passwd",
        "http:///nohost",
        "http://user:pw@127.0.0.1/x",
        "http://127.0.0.1/a\r\nX-Injected: 1",
        "http://127.0.0.1:99999/x",
    ],
)
def test_non_http_and_malformed_urls_are_400(viewer_client, upstream, url):
    response = proxied(viewer_client, url)
    assert response.status_code == 400, url
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert upstream.seen == []


def test_missing_url_is_400(viewer_client, upstream):
    response = viewer_client.get("/api/v1/resources/proxy")
    assert response.status_code == 400
    assert response.json()["message"].startswith("url:")


def test_empty_allow_list_disables_the_proxy_with_a_clear_403(viewer_client, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = []
    response = proxied(viewer_client, "https://bucket.oss-cn-shenzhen.aliyuncs.com/1.png")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "PROXY_DISABLED"
    assert "RPA_PROXY_ALLOWED_HOSTS" in body["message"]


def test_host_outside_the_allow_list_is_403(viewer_client, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["*.aliyuncs.com"]
    for url in ("https://evil.example.com/1.png", "https://aliyuncs.com.evil.example/1.png"):
        response = proxied(viewer_client, url)
        assert response.status_code == 403
        assert response.json()["code"] == "PROXY_HOST_NOT_ALLOWED"


@pytest.mark.parametrize(
    "location",
    ["http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]:1/x", "file:///etc/passwd"],
)
def test_redirect_to_a_refused_address_is_refused(viewer_client, upstream, settings, location):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.1", "*"]
    upstream.routes["/r"] = redirect(location)
    response = proxied(viewer_client, upstream.url("/r"))
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "UPSTREAM_REDIRECT_REFUSED"
    assert "refused" in body["message"]


def test_redirect_to_a_host_outside_the_allow_list_is_refused(viewer_client, upstream):
    upstream.routes["/r"] = redirect("https://attacker.example.net/x")
    response = proxied(viewer_client, upstream.url("/r"))
    assert response.status_code == 502
    assert "not in RPA_PROXY_ALLOWED_HOSTS" in response.json()["message"]


def test_redirect_to_loopback_by_name_is_refused_when_only_a_glob_allows_it(viewer_client, upstream, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["127.0.0.1", "local*"]
    upstream.routes["/r"] = redirect(upstream.url("/secret", host="localhost"))
    upstream.routes["/secret"] = lambda h: send_body(h, b"secret")
    response = proxied(viewer_client, upstream.url("/r"))
    assert response.status_code == 502
    assert [seen["path"] for seen in upstream.seen] == ["/r"]
