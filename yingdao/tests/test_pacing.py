"""Every call is paced within Yingdao's published per-endpoint limits, across threads."""

from __future__ import annotations

import logging
import threading

from yingdao import client as client_module
from yingdao.client import Client
from yingdao.limiter import Limiter
from yingdao.testing import FakeClock


def start_body(n: int) -> dict:
    return {"robotUuid": "app-1", "accountName": "bot@corp", "idempotentUuid": f"job-{n}"}


def test_a_burst_of_100_starts_never_exceeds_10_per_second(fake_yingdao):
    clock = FakeClock()
    fake_yingdao.clock = clock
    api = Client(limiter=Limiter(clock=clock, sleep=clock.sleep), clock=clock)
    began = clock()
    for n in range(100):
        api.start_job(start_body(n))
    assert len(fake_yingdao.jobs) == 100
    assert fake_yingdao.refused == {}
    assert fake_yingdao.max_per_second("job/start") == 10
    elapsed = clock() - began
    logging.getLogger(__name__).warning("100 starts took %.2f virtual seconds", elapsed)
    assert 9 <= elapsed < 11  # as fast as the limit allows, no faster


def test_threads_share_one_limiter(fake_yingdao):
    api = client_module.client()  # the process-wide limiter
    errors: list[Exception] = []

    def worker(first: int) -> None:
        for n in range(first, first + 5):
            try:
                api.start_job(start_body(n))
            except Exception as exc:  # noqa: BLE001 — collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k * 5,)) for k in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(fake_yingdao.jobs) == 25
    assert fake_yingdao.refused == {}
    assert fake_yingdao.max_per_second("job/start") <= 10


def test_a_refusal_backs_off_and_retries_later(fake_yingdao):
    fake_yingdao.limits["job/query"] = 2  # stricter than we were told: Yingdao refuses
    api = client_module.client()
    job_uuid = api.start_job(start_body(1)).data["jobUuid"]
    for _ in range(6):
        assert api.query_job(job_uuid).data["jobUuid"] == job_uuid
    assert fake_yingdao.refused.get("job/query", 0) > 0
    assert len(fake_yingdao.calls("job/query")) == 6


def test_a_refusal_lasting_past_the_budget_is_a_failure(fake_yingdao, settings):
    settings.RPA_YINGDAO_RATE_LIMIT_WAIT = 0.5
    fake_yingdao.limits["job/query"] = 0
    api = client_module.client()
    try:
        api.query_job("x")
    except client_module.YingdaoError as exc:
        assert "rate limit" in exc.message
    else:
        raise AssertionError("expected a rate-limit failure")
