"""The event outbox (`rpa_workbench.event_store`): each event stored once, in the transaction of
its change, with positions in commit order; replay reads, retention, and delivery after commit.
(Ordering under concurrency on PostgreSQL: test_events_ordering.py.)"""

from __future__ import annotations

import datetime
import json
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rpa_workbench import event_store, events
from rpa_workbench.models import StoredEvent
from rpa_workbench.testing.threads import run_together


def log(account_id) -> SimpleNamespace:
    return SimpleNamespace(pk="l1", shadow_bot_account="a", app_name="x", status="failed", account_id=account_id)


@pytest.fixture
def handed_over(monkeypatch) -> list[list[tuple[int, str]]]:
    """Every hand-over after commit, as (primary key, type) lists (nothing is stamped: on
    PostgreSQL the hand-over is what stamps positions)."""
    calls: list[list[tuple[int, str]]] = []
    monkeypatch.setattr(events, "hand_over", lambda rows: calls.append([(row.pk, row.type) for row in rows]))
    return calls


def stamped_positions() -> list[int]:
    """Stamp what waits for a position (PostgreSQL: the after-commit hand-over does it, which
    these tests do not run; SQLite: the insert did it) and return every position in order."""
    event_store.sequence()
    return list(StoredEvent.objects.values_list("position", flat=True))


@pytest.mark.django_db
def test_an_event_is_one_row_with_its_account_as_a_column(make_account):
    account = make_account()
    with CaptureQueriesContext(connection) as queries:
        events.publish_account_updated(account, {"status": "failed"})
    assert len(queries) == 1  # one INSERT … RETURNING
    [row] = StoredEvent.objects.all()
    assert (row.type, row.account_id) == ("account_updated", account.pk)
    assert '"changes": {"status": "failed"}' in row.data


@pytest.mark.django_db
def test_replay_reads_all_events_or_one_accounts_in_order(make_account):
    first, second = make_account(port=1), make_account(port=2)
    for account in (first, second, first):
        events.publish_account_updated(account, {"port": account.port})
    ids = stamped_positions()
    assert ids == list(range(ids[0], ids[0] + 3))  # dense: no gap for a reader to wonder about
    assert [row.position for row in event_store.read_after(ids[0] - 1)] == ids
    assert [row.position for row in event_store.read_after(ids[0] - 1, str(first.pk))] == [ids[0], ids[2]]
    assert [row.position for row in event_store.read_after(ids[0], str(first.pk))] == [ids[2]]
    assert event_store.current_id() == ids[-1]


@pytest.mark.django_db
def test_a_rolled_back_change_or_savepoint_takes_its_events_with_it(make_account, handed_over):
    account = make_account()
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish_account_updated(account, {"port": 1})
        raise RuntimeError
    with transaction.atomic(), events.batch():
        events.publish_account_updated(account, {"port": 2})
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint inside the batch
            events.publish_account_updated(account, {"port": 3})
            raise RuntimeError
    assert [row.data.count('"port": 2') for row in StoredEvent.objects.all()] == [1]
    # (the test's own transaction never commits: nothing handed over)
    assert handed_over == []


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_handed_over_once_after_commit_in_publishing_order(make_account, handed_over):
    account = make_account()
    with transaction.atomic():
        with events.batch():
            events.publish_account_updated(account, {"status": "failed"})
            with pytest.raises(RuntimeError), transaction.atomic():
                task = SimpleNamespace(account_id=account.pk, pk="t", app_name="x", account=account)
                events.publish_task_updated(task, {"status": "running"})
                raise RuntimeError
            events.publish_log_created(log(account.pk))
        assert StoredEvent.objects.count() == 2  # stored with the change, before the commit
        assert handed_over == []  # delivered only after it
    assert [[kind for _, kind in call] for call in handed_over] == [["account_updated", "log_created"]]


@pytest.mark.django_db(transaction=True)
def test_a_nested_batch_joins_the_outer_one(make_account, handed_over):
    account = make_account()
    with transaction.atomic(), events.batch():
        events.publish_account_updated(account, {"port": 1})
        with events.batch():
            events.publish_account_updated(account, {"port": 2})
    assert [len(call) for call in handed_over] == [2]


def online_robot(make_account):
    """A robot already announced online: its contact is one conditional UPDATE (no flip)."""
    return make_account(presence_state="online", last_seen_at=timezone.now())


def statements(*, sqlite: int, postgresql: int) -> int:
    """SQLite transactions hold the whole database, so the account and task are not locked and
    re-read (jobs.transitions.transaction_locks_everything); PostgreSQL locks them row by row."""
    return sqlite if connection.vendor == "sqlite" else postgresql


@pytest.mark.django_db(transaction=True)
def test_an_execution_is_one_short_transaction_with_its_events(
    make_account, make_task, handed_over, django_assert_max_num_queries
):
    """One transaction: BEGIN, match the task (account joined), insert the log, the job's
    transition (adopted first here: the task was running without a job), the task and account
    updates, their five events (log, two job, task, account) stored with them, the robot's
    contact, COMMIT; nothing after the commit but the live hand-over. 9 statements before the
    jobs app, 18 with it at first; then 16 on SQLite (18 on PostgreSQL, with the locks); one more
    with work queues: the items the ended job still holds (workqueues.abandon.job_ended)."""
    from jobs.reports import record_execution

    task = make_task(account=online_robot(make_account), status="running")
    with django_assert_max_num_queries(statements(sqlite=17, postgresql=19)):
        record_execution(
            shadow_bot_account=task.account.shadow_bot_account,
            app_name=task.app_name,
            status="completed",
            start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        )
    [kinds] = [[kind for _, kind in call] for call in handed_over]  # one hand-over, after commit
    assert {"log_created", "job_updated", "task_updated", "account_updated"} == set(kinds)
    assert StoredEvent.objects.filter(account_id=task.account_id).count() == len(kinds)


@pytest.mark.django_db(transaction=True)
def test_a_report_no_job_waited_for_is_one_short_transaction_too(
    make_account, make_task, handed_over, django_assert_max_num_queries
):
    """The robot's own run (no active job): BEGIN, match, the log and its event, (on PostgreSQL
    the account then task locks, the account loaded with the task), the active-job read, the
    `robot` job's insert and event, the task update and event, the running-elsewhere check, the
    account update and event, the work queue items the ended job still holds, the contact,
    COMMIT: 15 on SQLite, 17 on PostgreSQL."""
    from jobs.models import Job, JobSource
    from jobs.reports import record_execution

    task = make_task(account=online_robot(make_account), status="pending")
    with django_assert_max_num_queries(statements(sqlite=15, postgresql=17)):
        record_execution(
            shadow_bot_account=task.account.shadow_bot_account,
            app_name=task.app_name,
            status="completed",
            start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        )
    [job] = Job.objects.filter(task=task)
    assert job.source == JobSource.ROBOT and job.status == "completed"
    [kinds] = [[kind for _, kind in call] for call in handed_over]
    assert {"log_created", "job_updated", "task_updated", "account_updated"} == set(kinds)


@pytest.mark.django_db(transaction=True)
def test_a_batch_drops_the_events_of_a_savepoint_that_rolled_back(make_account, handed_over):
    """Issue 13 item 9: the same rule as outside a batch (Django's on_commit and savepoints);
    here the rolled-back event is not even stored."""
    account = make_account()
    with transaction.atomic(), events.batch():
        events.publish_account_updated(account, {"port": 1})
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish_account_updated(account, {"port": 2})
            raise RuntimeError
        with transaction.atomic():
            events.publish_log_created(log(account.pk))
    assert [[kind for _, kind in call] for call in handed_over] == [["account_updated", "log_created"]]
    stored = [json.loads(data)["data"] for data in StoredEvent.objects.order_by("id").values_list("data", flat=True)]
    assert [data.get("changes") for data in stored] == [{"port": 1}, None]


@pytest.mark.django_db(transaction=True)
def test_a_batch_inside_a_savepoint_that_rolls_back_sends_nothing(make_account, handed_over):
    account = make_account()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            with events.batch():
                events.publish_account_updated(account, {"port": 3})
            raise RuntimeError
        events.publish_account_updated(account, {"port": 4})
    assert [[kind for _, kind in call] for call in handed_over] == [["account_updated"]]
    assert StoredEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_sends_at_once(make_account, handed_over):
    account = make_account()
    with events.batch():
        events.publish_account_updated(account, {"port": 5})
        events.publish_account_updated(account, {"port": 6})
    assert [len(call) for call in handed_over] == [2]


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishers_commit_unique_ids_in_order(make_account):
    """Eight threads store 25 events each at once; every id is unique, and each thread's
    events come out in its publishing order."""
    account = make_account()

    def publish(n: int):
        def run() -> None:
            for i in range(25):
                with transaction.atomic():
                    events.publish_account_updated(account, {"port": n * 100 + i})

        return run

    run_together([publish(n) for n in range(8)])
    ports = [json.loads(data)["data"]["changes"]["port"] for data in StoredEvent.objects.values_list("data", flat=True)]
    assert len(ports) == len(set(ports)) == 200
    for n in range(8):
        mine = [port for port in ports if port // 100 == n]
        assert mine == sorted(mine)


@pytest.mark.django_db
def test_the_outbox_keeps_only_its_last_events_and_marks_what_it_trimmed(make_account, settings):
    settings.RPA_SSE_RETENTION_EVENTS = 150
    account = make_account()
    for i in range(300):
        events.publish_account_updated(account, {"port": i})
    newest = stamped_positions()[-1]
    event_store.trim(force=True)
    kept = list(StoredEvent.objects.values_list("position", flat=True))
    assert kept == list(range(newest - 149, newest + 1))
    assert event_store.is_trimmed(newest - 200)
    assert not event_store.is_trimmed(newest - 150)  # resumes with the oldest kept event
    assert event_store.is_trimmed(newest + 1)  # an id this database never gave


@pytest.mark.django_db
def test_events_older_than_the_retention_are_trimmed_but_the_newest_stays(make_account, settings):
    settings.RPA_SSE_RETENTION_HOURS = 1
    account = make_account()
    for i in range(3):
        events.publish_account_updated(account, {"port": i})
    stamped_positions()
    StoredEvent.objects.update(created_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    event_store.trim(force=True)
    assert list(StoredEvent.objects.values_list("position", flat=True)) == [event_store.current_id()]
    assert event_store.current_id() > 0
