"""HTTPS through a pinned address: the certificate is still checked against the URL's host name.

Connecting to the checked IP must not weaken TLS: SNI and the certificate check use the name
from the URL, so a certificate for another name (or an untrusted one) is a 502.
"""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import urlencode

import pytest

from resources.tests.upstream import send_body, start_upstream
from rpa_workbench import outbound
from rpa_workbench.testing.servers import stop

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate"),
]

NAME = "files.intranet.test"


@pytest.fixture
def https_bucket(tmp_path, settings, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}"],
        check=True, capture_output=True,
    )  # fmt: skip
    bucket, server = start_upstream(certfile=str(cert), keyfile=str(key))
    bucket.routes["/shot.png"] = lambda h: send_body(h, b"over tls", Content_Type="image/png")
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: ["127.0.0.1"])
    settings.RPA_PROXY_CA_BUNDLE = str(cert)
    yield bucket
    stop(server)


def proxied(client, url: str):
    return client.get(f"/api/v1/resources/proxy?{urlencode({'url': url})}")


def test_https_object_is_fetched_with_sni_for_the_url_host(viewer_client, https_bucket, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = [NAME]
    response = proxied(viewer_client, f"https://{NAME}:{https_bucket.port}/shot.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"over tls"
    assert https_bucket.seen[0]["headers"]["Host"] == f"{NAME}:{https_bucket.port}"


def test_certificate_for_another_name_is_502(viewer_client, https_bucket, settings):
    settings.RPA_PROXY_ALLOWED_HOSTS = ["other.intranet.test"]
    response = proxied(viewer_client, f"https://other.intranet.test:{https_bucket.port}/shot.png")
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TLS_ERROR"
    assert https_bucket.seen == []


def test_untrusted_certificate_is_502(viewer_client, https_bucket, settings):
    settings.RPA_PROXY_CA_BUNDLE = ""  # public CAs only
    settings.RPA_PROXY_ALLOWED_HOSTS = [NAME]
    response = proxied(viewer_client, f"https://{NAME}:{https_bucket.port}/shot.png")
    assert response.status_code == 502
    assert response.json()["code"] == "UPSTREAM_TLS_ERROR"
