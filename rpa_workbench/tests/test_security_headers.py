"""Security headers (issue 23): a Content-Security-Policy on the admin, the dashboard and the API
docs (scripts only from our origin or with the response's nonce), and HSTS when the request came
over TLS — behind the proxy, `DJANGO_SECURE_PROXY_SSL=true` with `X-Forwarded-Proto: https`."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = ["/admin/", "/admin/tasks/task/", "/dashboard/", "/docs", "/redoc", "/api/v1/auth/me"]
LOGIN_PAGES = ["/admin/login/", "/dashboard/login/"]


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


@pytest.mark.parametrize("path", SIGNED_IN_PAGES + LOGIN_PAGES)
def test_every_page_has_a_content_security_policy(client, admin_user, path):
    if path not in LOGIN_PAGES:
        client.force_login(admin_user)
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'self'"]
    scripts = policy["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert scripts[0] == "'self'" and re.fullmatch(r"'nonce-[\w-]{20,}'", scripts[1])


def test_the_nonce_is_new_for_every_response_and_on_the_dashboard_script(root):
    first, second = root.get("/dashboard/"), root.get("/dashboard/")
    nonces = [re.search(r"'nonce-([\w-]+)'", r["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    html = first.content.decode()
    assert f'<script nonce="{nonces[0]}">' in html
    assert all(tag.startswith(f'<script nonce="{nonces[0]}"') or " src=" in tag for tag in re.findall(r"<script[^>]*>", html))


def test_swagger_ui_loads_its_start_up_script_from_our_origin(anon_client):
    html = anon_client.get("/docs").content.decode()
    inline = [tag for tag in re.findall(r"<script[^>]*>", html) if " src=" not in tag]
    assert inline == []
    assert anon_client.get("/docs?script=").status_code == 200


def test_the_resource_proxy_keeps_its_sandbox_policy():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from rpa_workbench.headers import content_security_policy

    def view(request):
        response = HttpResponse(b"bytes")
        response["Content-Security-Policy"] = "sandbox"
        return response

    assert content_security_policy(view)(RequestFactory().get("/x"))["Content-Security-Policy"] == "sandbox"


def test_hsts_is_sent_behind_tls_only(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # DJANGO_SECURE_PROXY_SSL=true
    over_tls = client.get("/health", HTTP_X_FORWARDED_PROTO="https")
    assert over_tls["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/health")


def test_hsts_can_be_turned_off(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 0
    assert "Strict-Transport-Security" not in client.get("/health", HTTP_X_FORWARDED_PROTO="https")
