"""Against the real app under Daphne: concurrent identical deliveries produce one log."""

from __future__ import annotations

import threading

import pytest
import requests

from conftest import WEBHOOK_TOKEN
from executionlogs.models import ExecutionLog
from tasks.models import Task

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

BODY = {
    "shadow_bot_account": "bot_live",
    "app_name": "daily_report",
    "status": "completed",
    "start_time": "2026-01-21 14:30:00",
    "end_time": "2026-01-21 14:42:34",
    "result_summary": {"total_items": 3, "success_items": 3, "failed_items": 0},
}


def deliver_concurrently(url: str, bodies: list[dict]) -> list[requests.Response]:
    barrier = threading.Barrier(len(bodies))
    responses: list[requests.Response | None] = [None] * len(bodies)

    def worker(index: int) -> None:
        barrier.wait()
        responses[index] = requests.post(
            url, json=bodies[index], headers={"X-Webhook-Token": WEBHOOK_TOKEN}, timeout=30
        )

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses  # type: ignore[return-value]


def test_two_concurrent_identical_deliveries_create_one_log(live_server_factory, make_account, make_task):
    task = make_task(
        account=make_account(shadow_bot_account="bot_live"), app_name="daily_report", status="running"
    )
    server = live_server_factory()
    url = f"{server.url}/api/v1/webhook/execution-complete"
    responses = deliver_concurrently(url, [BODY, BODY])
    assert [response.status_code for response in responses] == [200, 200], server.log()
    log_ids = {response.json()["log_id"] for response in responses}
    assert len(log_ids) == 1
    assert ExecutionLog.objects.count() == 1
    assert str(ExecutionLog.objects.get().pk) in log_ids
    assert sorted(response.json()["duplicate"] for response in responses) == [False, True]
    assert Task.objects.get(pk=task.pk).status == "pending"


def test_a_burst_of_identical_deliveries_with_an_execution_id_creates_one_log(
    live_server_factory, make_account
):
    make_account(shadow_bot_account="bot_live")
    server = live_server_factory()
    url = f"{server.url}/api/v1/webhook/execution-complete"
    bodies = [
        {**BODY, "execution_id": "run-7", "start_time": f"2026-01-21 14:30:{second:02d}"}
        for second in range(8)
    ]
    responses = deliver_concurrently(url, bodies)
    assert {response.status_code for response in responses} == {200}, server.log()
    assert len({response.json()["log_id"] for response in responses}) == 1
    assert ExecutionLog.objects.filter(execution_id="run-7").count() == 1
