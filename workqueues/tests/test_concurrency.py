"""Exactly one robot per item (API.md §13), as it happens in production: 20 robots taking from one
queue at once — in threads on this database, and over HTTP against two server processes — while
items are still being added and results recorded."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import requests

import conftest
from rpa_workbench.testing.threads import run_together
from workqueues import items
from workqueues.models import ItemStatus, QueueItem, WorkQueue

ROBOTS = 20


def drain(queue_name: str, robot: str, take, record) -> list[str]:
    """Take and finish items until none is ready; the ids this robot got."""
    mine = []
    while True:
        item_id = take(queue_name, robot)
        if item_id is None:
            return mine
        mine.append(item_id)
        record(item_id)


def assert_each_item_once(got: list[list[str]], total: int) -> None:
    everything = [item_id for ids in got for item_id in ids]
    repeated = [item_id for item_id, times in Counter(everything).items() if times > 1]
    assert repeated == []
    assert len(everything) == total
    assert QueueItem.objects.filter(status=ItemStatus.SUCCESSFUL).count() == total
    assert sum(1 for ids in got if ids) > 1  # the robots really shared the work


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_take_every_item_exactly_once_while_items_are_added(make_account):
    queue = WorkQueue.objects.create(name="orders")
    robots = [make_account(shadow_bot_account=f"robot_{n:02d}").shadow_bot_account for n in range(ROBOTS)]
    items.add_items(queue=queue, specs=[{"priority": "normal", "reference": f"A{n}"} for n in range(150)])
    added = threading.Event()

    def take(name, robot):
        item = items.take_next(queue_name=name, shadow_bot_account=robot)
        if item is None and not added.is_set():
            added.wait(5)
            item = items.take_next(queue_name=name, shadow_bot_account=robot)
        return str(item.pk) if item else None

    def record(item_id):
        items.record_result(item_id=item_id, status="successful")

    def add_more():
        items.add_items(queue=queue, specs=[{"priority": "high", "reference": f"B{n}"} for n in range(50)])
        added.set()
        return []

    got = run_together([lambda robot=robot: drain("orders", robot, take, record) for robot in robots] + [add_more])
    assert_each_item_once(got, 200)


@pytest.mark.live
def test_twenty_robots_on_two_server_processes_get_every_item_exactly_once(live_server_factory, make_account):
    env = {"RPA_EMBEDDED_WORKQUEUES": "false", "RPA_EMBEDDED_DISPATCHER": "false"}
    servers = [live_server_factory(env=env), live_server_factory(env=env)]
    queue = WorkQueue.objects.create(name="orders", max_retries=0)
    robots = [make_account(shadow_bot_account=f"robot_{n:02d}").shadow_bot_account for n in range(ROBOTS)]
    items.add_items(queue=queue, specs=[{"priority": ("high", "normal", "low")[n % 3], "reference": f"R{n}"} for n in range(300)])
    headers = {"X-Webhook-Token": conftest.WEBHOOK_TOKEN}
    sessions = threading.local()

    def session():
        if not hasattr(sessions, "value"):
            sessions.value = requests.Session()
        return sessions.value

    def server_for(robot):
        return servers[int(robot[-2:]) % 2].url

    def take(name, robot):
        answer = session().post(f"{server_for(robot)}/api/v1/webhook/queue/next", json={"queue": name, "shadow_bot_account": robot},
                                headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        item = answer.json()["item"]
        return item["id"] if item else None

    def record(item_id):
        # A result goes to the other server than the take: any process may receive it.
        url = servers[hash(item_id) % 2].url
        answer = session().post(f"{url}/api/v1/webhook/queue/items/{item_id}/result", json={"status": "successful"},
                                headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text

    got = run_together([lambda robot=robot: drain("orders", robot, take, record) for robot in robots], timeout=180)
    assert_each_item_once(got, 300)
    # Every robot's items came in priority order (high first), as each took them.
    ranks = dict(QueueItem.objects.values_list("pk", "priority_rank"))
    for ids in got:
        taken_ranks = [ranks[uuid.UUID(item_id)] for item_id in ids]
        assert taken_ranks == sorted(taken_ranks)
