"""Issue 13 item 2: the intranet GET starts robots, so a session cookie alone is not enough.

A browser attaches the `SameSite=Lax` session cookie to a link or top-level navigation from
another site; the request must also show it comes from our own pages (Origin/Referer) or carry
the CSRF token. Bearer callers (the SPA) are unaffected.
"""

from __future__ import annotations

import pytest
from django.test import Client

from resources.tests.test_intranet import URL, params

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_client(operator_user) -> Client:
    client = Client()
    client.force_login(operator_user)
    return client


def test_a_cookie_only_get_from_another_site_is_refused_and_nothing_is_sent(session_client, fake_relay):
    response = session_client.get(URL, params(), HTTP_REFERER="https://evil.example/page")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "CSRF_FAILED"
    assert body["success"] is False and body["message"]
    assert fake_relay.requests == []


def test_a_cookie_only_get_with_no_origin_and_no_referer_is_refused(session_client, fake_relay):
    response = session_client.get(URL, params())
    assert response.status_code == 403
    assert response.json()["code"] == "CSRF_FAILED"
    assert fake_relay.requests == []


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://testserver.evil.example"])
def test_a_foreign_origin_is_refused_even_with_a_same_site_referer(session_client, fake_relay, origin):
    response = session_client.get(
        URL, params(), HTTP_ORIGIN=origin, HTTP_REFERER="http://testserver/dashboard/"
    )
    assert response.status_code == 403
    assert fake_relay.requests == []


def test_a_same_origin_referer_works(session_client, fake_relay):
    response = session_client.get(URL, params(), HTTP_REFERER="http://testserver/admin/tasks/task/")
    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert fake_relay.queries[-1]["target"] == "START"


def test_a_same_origin_origin_header_works(session_client, fake_relay):
    response = session_client.get(URL, params(), HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200, response.content


def test_an_origin_of_the_cors_allow_list_works(session_client, fake_relay, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://spa.example"]
    response = session_client.get(URL, params(), HTTP_ORIGIN="https://spa.example")
    assert response.status_code == 200, response.content


def test_a_csrf_trusted_origin_wildcard_works(session_client, fake_relay, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.corp.example"]
    response = session_client.get(URL, params(), HTTP_REFERER="https://ops.corp.example/tools")
    assert response.status_code == 200, response.content


def test_a_valid_csrf_token_header_works_without_origin_or_referer(session_client, fake_relay):
    session_client.get("/admin/")  # sets the csrftoken cookie, as any page with a form does
    token = session_client.cookies["csrftoken"].value
    response = session_client.get(URL, params(), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content


def test_a_wrong_csrf_token_is_refused(session_client, fake_relay):
    session_client.get("/admin/")
    response = session_client.get(URL, params(), HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    assert fake_relay.requests == []


def test_a_bearer_caller_needs_no_origin(operator_client, fake_relay):
    response = operator_client.get(URL, params(), HTTP_REFERER="https://anywhere.example/")
    assert response.status_code == 200
    assert fake_relay.queries[-1]["target"] == "START"
