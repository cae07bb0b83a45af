"""The Open API client against the fake tenant: token, failures, timeouts, secrets."""

from __future__ import annotations

import logging

import pytest

from yingdao import client as client_module
from yingdao.client import Client, NotConfigured, YingdaoError
from yingdao.testing import FakeClock
from yingdao.tests.conftest import KEY_SECRET


def start_body(idempotent: str = "job-1") -> dict:
    return {"robotUuid": "app-1", "accountName": "bot@corp", "idempotentUuid": idempotent}


def test_one_token_is_fetched_and_reused_by_every_call(fake_yingdao):
    api = client_module.client()
    for n in range(3):
        api.start_job(start_body(f"job-{n}"))
    assert fake_yingdao.tokens_issued == 1
    assert len(fake_yingdao.jobs) == 3


def test_the_token_is_renewed_a_few_minutes_before_it_expires(fake_yingdao, settings):
    settings.RPA_YINGDAO_TOKEN_MARGIN_SECONDS = 300
    clock = FakeClock(start=0)
    api = Client(clock=clock)
    api.start_job(start_body("a"))
    clock.advance(7200 - 301)
    api.start_job(start_body("b"))
    assert fake_yingdao.tokens_issued == 1
    clock.advance(2)  # now within the margin: renewed before Yingdao would refuse it
    api.start_job(start_body("c"))
    assert fake_yingdao.tokens_issued == 2


def test_a_call_answered_unauthorized_renews_the_token_once_and_succeeds(fake_yingdao):
    api = client_module.client()
    api.start_job(start_body("a"))
    fake_yingdao.expire_tokens()  # Yingdao forgot it (revoked, restarted, clock drift)
    answer = api.start_job(start_body("b"))
    assert answer.data["jobUuid"] in fake_yingdao.jobs
    assert fake_yingdao.tokens_issued == 2


def test_renewal_is_tried_only_once(fake_yingdao):
    fake_yingdao.token_ttl = 0  # every token it issues is already expired
    with pytest.raises(YingdaoError) as caught:
        client_module.client().start_job(start_body())
    assert "accessToken invalid or expired" in caught.value.message
    assert fake_yingdao.tokens_issued == 2


def test_a_code_other_than_200_is_a_failure_carrying_yingdaos_msg(fake_yingdao):
    fake_yingdao.failures["job/start"] = (500, "机器人不在线 (robot offline)")
    with pytest.raises(YingdaoError) as caught:
        client_module.client().start_job(start_body())
    assert caught.value.code == 500
    assert "机器人不在线 (robot offline)" in caught.value.message
    assert not caught.value.may_have_reached


def test_wrong_key_is_a_failure_naming_the_problem(fake_yingdao, settings):
    settings.RPA_YINGDAO_ACCESS_KEY_ID = "someone-else"
    with pytest.raises(YingdaoError, match="accessKeyId or accessKeySecret is wrong"):
        client_module.client().start_job(start_body())


def test_a_key_refused_as_unauthorized_is_a_plain_failure(fake_yingdao):
    fake_yingdao.failures["token"] = (401, "AccessKey disabled")
    with pytest.raises(YingdaoError, match="AccessKey disabled"):
        client_module.client().start_job(start_body())
    assert fake_yingdao.tokens_issued == 0


def test_not_configured_sends_nothing_and_names_the_variables(fake_yingdao, settings):
    settings.RPA_YINGDAO_ACCESS_KEY_SECRET = ""
    with pytest.raises(NotConfigured, match="RPA_YINGDAO_ACCESS_KEY_SECRET"):
        client_module.client().start_job(start_body())
    assert fake_yingdao.requests == []


def test_a_slow_answer_is_cut_at_the_configured_timeout(fake_yingdao, settings):
    settings.RPA_YINGDAO_TIMEOUT = 0.5
    settings.RPA_YINGDAO_CONNECT_TIMEOUT = 0.2
    fake_yingdao.start_answer_delay = 1.5
    with pytest.raises(YingdaoError) as caught:
        client_module.client().start_job(start_body())
    assert "no answer within 0.5s" in caught.value.message
    assert caught.value.may_have_reached  # the job exists at Yingdao: only idempotency makes a repeat safe


def test_an_unreachable_tenant_is_a_failure_that_certainly_did_not_arrive(fake_yingdao, settings):
    settings.RPA_YINGDAO_API_URL = "http://127.0.0.1:9"
    with pytest.raises(YingdaoError) as caught:
        client_module.client().start_job(start_body())
    assert "unreachable" in caught.value.message
    assert not caught.value.may_have_reached


def test_no_secret_reaches_any_log_line_or_error(fake_yingdao, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG
    api = client_module.client()
    api.start_job(start_body("a"))
    fake_yingdao.expire_tokens()
    api.start_job(start_body("b"))
    fake_yingdao.failures["job/query"] = (500, "boom")
    with pytest.raises(YingdaoError) as caught:
        api.query_job("x")
    tokens = fake_yingdao.issued_tokens
    assert fake_yingdao.tokens_issued == 2 and tokens
    text = "\n".join(record.getMessage() for record in caplog.records) + str(caught.value)
    assert "token/create" in text  # the request lines were logged, scrubbed
    assert KEY_SECRET not in text
    for token in tokens:
        assert token not in text
