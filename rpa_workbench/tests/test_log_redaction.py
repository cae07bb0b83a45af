"""Issue 13 item 7: no credential reaches a log — neither Daphne's access log (which writes every
request's full URL, the SSE stream's `?token=<JWT>` included) nor any line of our own code."""

from __future__ import annotations

import logging
import sys

import pytest
import requests
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from conftest import WEBHOOK_TOKEN
from rpa_workbench.redaction import REDACTED, RedactingFilter, redact

HEARTBEAT = "/api/v1/webhook/heartbeat"


# --- the filter ------------------------------------------------------------------------------


def test_query_tokens_signatures_jwts_bearer_values_and_the_secret_are_redacted(settings):
    settings.RPA_WEBHOOK_TOKEN = "robots-shared-secret"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlX2hlcmU"
    line = (
        f'GET /api/v1/sse/events?account_id=1&token={jwt} 200; /r/x.png?sig=abc:123&w=1; '
        f"Authorization: Bearer opaque-value; X-Webhook-Token: robots-shared-secret; {jwt}"
    )
    cleaned = redact(line)
    for secret in (jwt, "abc:123", "opaque-value", "robots-shared-secret"):
        assert secret not in cleaned
    assert f"?account_id=1&token={REDACTED}" in cleaned
    assert f"?sig={REDACTED}&w=1" in cleaned


def test_the_filter_redacts_messages_arguments_and_tracebacks():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlX2hlcmU"
    try:
        raise ValueError(f"bad token {jwt}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "GET %s", (f"/e?token={jwt}",), sys.exc_info())
    assert RedactingFilter().filter(record) is True
    formatted = logging.Formatter().format(record)
    assert jwt not in formatted
    assert "token=[redacted]" in formatted


# --- the live server's output ----------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("roles_synced")
def test_the_live_server_logs_neither_the_jwt_nor_the_webhook_secret(
    live_server_factory, sse_readers, admin_user, make_account
):
    server = live_server_factory()
    make_account(shadow_bot_account="bot_01")
    jwt = str(AccessToken.for_user(admin_user))
    stream = f"{server.url}/api/v1/sse/events"

    reader = sse_readers(stream, params={"token": jwt})
    assert reader.status == 200
    reader.close()
    # Requests that end at once, so Daphne writes their access-log line with the whole URL.
    assert requests.get(stream, params={"token": jwt, "account_id": "nope"}, timeout=10).status_code == 400
    assert requests.get(f"{server.url}/api/v1/sse/status", params={"token": jwt}, timeout=10).status_code in (200, 401)
    for secret in (WEBHOOK_TOKEN, "a-wrong-guess"):
        requests.post(
            f"{server.url}{HEARTBEAT}",
            json={"shadow_bot_account": "bot_01", "app_name": "x"},
            headers={"X-Webhook-Token": secret},
            timeout=10,
        )
    server.stop()
    output = server.log()
    assert "/api/v1/sse/events?token=[redacted]&account_id=nope" in output  # the line is there…
    assert jwt not in output  # …without the token
    assert jwt.split(".")[2] not in output
    assert WEBHOOK_TOKEN not in output


# --- our own log lines -----------------------------------------------------------------------


@pytest.mark.django_db
def test_no_log_line_of_our_own_code_carries_a_credential(caplog, operator_user, make_account, fake_relay):
    caplog.set_level(logging.DEBUG)
    make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)
    anon = APIClient()
    anon.post("/api/v1/auth/token", {"username": "operator1", "password": "wrong"}, format="json")
    pair = anon.post("/api/v1/auth/token", {"username": "operator1", "password": "pw-operator1"}, format="json").json()
    anon.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    user = APIClient()
    user.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    user.get("/api/v1/sse/status")
    user.get("/api/v1/accounts")
    fake_relay.status = 500  # a failing relay call is logged: without credentials
    user.get(
        "/api/v1/resources/proxy/intranet",
        {"backend_ip": "192.168.1.100", "backend_port": "8000", "tak": "a", "target": "START"},
    )
    for secret in (WEBHOOK_TOKEN, "a-wrong-guess"):
        robot = APIClient()
        robot.credentials(HTTP_X_WEBHOOK_TOKEN=secret)
        robot.post(HEARTBEAT, {"shadow_bot_account": "bot_01", "app_name": "x"}, format="json")
    APIClient().get("/api/v1/resources/configs/x.json", {"sig": "forged"}, HTTP_AUTHORIZATION=f"Bearer {WEBHOOK_TOKEN}")
    assert caplog.records, "the flows logged nothing: the check would prove nothing"
    text = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    for credential in (pair["access"], pair["refresh"], WEBHOOK_TOKEN, "pw-operator1"):
        assert credential not in text
