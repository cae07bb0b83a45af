"""Events are ordered without a lock held across a request's transaction (issue 22; docs/jobs.md,
"Event ordering"), on PostgreSQL with real concurrent connections (one thread each):
- an event that commits after a later-inserted one is delivered after it, never skipped, by the
  replay (`position > last`) and by the live hand-over;
- a transaction holding an event of robot A open does not hold up robot B's webhooks;
- a robot's execution report and its heartbeats at once answer no 5xx (the reported deadlock).
SQLite has one writer at a time: its order is test_events_storage.py's."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from conftest import WEBHOOK_TOKEN
from rpa_workbench import event_store, events
from rpa_workbench.testing.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

EXECUTION_COMPLETE = "/api/v1/webhook/execution-complete"
HEARTBEAT = "/api/v1/webhook/heartbeat"


@pytest.fixture(autouse=True)
def postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite has one writer at a time)")


class RecordingHub:
    """Stands in for this process's hub: what the after-commit hand-over delivers, in order."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.lock = threading.Lock()

    def receive(self, rows) -> None:
        with self.lock:
            self.positions.extend(row.position for row in rows)

    def wake_now(self) -> None:
        """(A request finished: nothing to wake here.)"""


def port(row) -> int:
    return json.loads(row.data)["data"]["changes"]["port"]


def robot_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_WEBHOOK_TOKEN=WEBHOOK_TOKEN)
    return client


def test_an_event_committing_after_a_later_one_comes_after_it_and_is_never_skipped(make_account, monkeypatch):
    hub = RecordingHub()
    monkeypatch.setattr(events, "hub", hub)
    account = make_account()
    start = event_store.current_id()
    inserted, release = threading.Event(), threading.Event()

    def slow() -> int:
        """Inserts its event first and commits last."""
        with transaction.atomic():
            events.publish_account_updated(account, {"port": 1})
            inserted.set()
            assert release.wait(10), "the other transaction was held up by this one"
        return 1

    def fast() -> list:
        """Inserts its event second (a higher id) and commits first, while `slow` is open."""
        try:
            assert inserted.wait(10)
            with transaction.atomic():
                events.publish_account_updated(account, {"port": 2})
            return event_store.read_after(start)  # what a stream reads now
        finally:
            release.set()

    _, read_while_open = run_together([slow, fast])
    assert [port(row) for row in read_while_open] == [2]  # the open one is not readable yet
    seen = read_while_open[-1].position

    later = event_store.read_after(start)
    assert [port(row) for row in later] == [2, 1]  # commit order
    assert later[0].pk > later[1].pk  # …although the event committed late has the lower id
    # A stream that stopped at what it saw resumes with `position > last` and gets the late one.
    assert [port(row) for row in event_store.read_after(seen)] == [1]
    # The live hand-over delivered both, in position order, without a gap.
    assert hub.positions == [seen, seen + 1]


def test_an_event_whose_process_died_before_stamping_it_is_stamped_and_delivered_by_the_loop(
    make_account, monkeypatch
):
    """Committed, but the after-commit stamping never ran (the process died, or it failed): the
    sequencer loop every server runs (`events.run_sequencer`) stamps and delivers it."""
    hub = RecordingHub()
    monkeypatch.setattr(events, "hub", hub)
    account = make_account()
    with monkeypatch.context() as dying:
        dying.setattr(events, "hand_over", lambda rows: None)
        with transaction.atomic():
            events.publish_account_updated(account, {"port": 3})
    assert event_store.read_after(0, str(account.pk)) == []  # not readable before its position
    [stamped] = events.sequence_pass()  # one pass of the loop
    assert port(stamped) == 3 and hub.positions == [stamped.position]
    assert event_store.read_after(0, str(account.pk)) == [stamped]
    assert events.sequence_pass() == []  # stamped once


def test_an_event_another_process_stamped_still_reaches_this_process_streams(make_account, monkeypatch):
    """One process without Redis or Pushpin (a management command beside the server): whoever
    stamps first delivers to its own hub, so the server's hand-over reads its own events back."""
    account = make_account()
    committed: list = []
    with monkeypatch.context() as later:
        later.setattr(events, "hand_over", committed.extend)  # this process, not yet run
        with transaction.atomic():
            events.publish_account_updated(account, {"port": 4})
    monkeypatch.setattr(events, "hub", RecordingHub())
    [stamped] = events.sequence_pass()  # the other process stamps it (its hub: no listener)
    hub = RecordingHub()
    monkeypatch.setattr(events, "hub", hub)
    events.hand_over(committed)  # this process's after-commit hand-over
    assert hub.positions == [stamped.position]


def test_robot_b_webhooks_answer_within_a_second_while_a_transaction_holds_robot_a_event(
    make_account, make_task, monkeypatch
):
    monkeypatch.setattr(events, "hub", RecordingHub())
    robot_a = make_account(shadow_bot_account="bot_a", host_ip="10.0.0.1")
    robot_b = make_account(shadow_bot_account="bot_b", host_ip="10.0.0.2", status="running")
    make_task(account=robot_b, app_name="report_b", status="running")
    published, release = threading.Event(), threading.Event()

    def hold_robot_a_event() -> None:
        with transaction.atomic():
            events.publish_account_updated(robot_a, {"port": 7})
            published.set()
            assert release.wait(15)

    def robot_b_webhooks() -> list[tuple[int, float]]:
        try:
            assert published.wait(10)
            client = robot_client()
            answers = []
            for path, body in (
                (HEARTBEAT, {"shadow_bot_account": "bot_b", "app_name": "report_b"}),
                (
                    EXECUTION_COMPLETE,
                    {
                        "shadow_bot_account": "bot_b",
                        "app_name": "report_b",
                        "status": "completed",
                        "start_time": "2026-01-21T14:30:00+08:00",
                        "end_time": "2026-01-21T14:42:34+08:00",
                    },
                ),
            ):
                began = time.monotonic()
                response = client.post(path, body, format="json")
                answers.append((response.status_code, time.monotonic() - began))
            # Robot B's events are readable while robot A's transaction is still open.
            answers.append((len(event_store.read_after(0, str(robot_b.pk))), 0.0))
            assert event_store.read_after(0, str(robot_a.pk)) == []
            return answers
        finally:
            release.set()

    _, answers = run_together([hold_robot_a_event, robot_b_webhooks])
    (heartbeat, heartbeat_took), (report, report_took), (robot_b_events, _) = answers
    assert (heartbeat, report) == (200, 200)
    assert heartbeat_took < 1.0 and report_took < 1.0
    assert robot_b_events >= 3  # the log, the task and the account (and the job) of the report
    assert len(event_store.read_after(0, str(robot_a.pk))) == 1  # committed at last


def test_one_robots_reports_and_heartbeats_at_once_answer_no_5xx(make_account, make_task, monkeypatch):
    """The reported deadlock: 3 threads post execution reports (each its own app) while 3 others
    send heartbeats of the same robot, ten rounds each."""
    monkeypatch.setattr(events, "hub", RecordingHub())
    robot = make_account(shadow_bot_account="bot_01", host_ip="10.0.0.9", status="running")
    apps = [f"app_{n}" for n in range(3)]
    for app in apps:
        make_task(account=robot, app_name=app, status="running")
    began = datetime(2026, 1, 21, 6, 0, tzinfo=UTC)

    def reporter(app: str):
        def run() -> list[int]:
            client = robot_client()
            statuses = []
            for n in range(10):
                start = began + timedelta(minutes=n)
                body = {
                    "shadow_bot_account": "bot_01",
                    "app_name": app,
                    "status": "completed" if n % 2 else "failed",
                    "start_time": start.isoformat(),
                    "end_time": (start + timedelta(seconds=30)).isoformat(),
                }
                statuses.append(client.post(EXECUTION_COMPLETE, body, format="json").status_code)
            return statuses

        return run

    def heartbeats(app: str):
        def run() -> list[int]:
            client = robot_client()
            body = {"shadow_bot_account": "bot_01", "app_name": app}
            return [client.post(HEARTBEAT, body, format="json").status_code for _ in range(10)]

        return run

    results = run_together([*(reporter(app) for app in apps), *(heartbeats(app) for app in apps)], timeout=120)
    statuses = [status for result in results for status in result]
    assert len(statuses) == 60
    assert [status for status in statuses if status >= 500] == []
