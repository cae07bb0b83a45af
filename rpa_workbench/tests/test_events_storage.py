"""The event store behind replay (`events.RetainedStorage`): per-channel sequential ids, replay
reads, retention, and ids that stay unique and gap-free under concurrent publishers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import transaction
from django_eventstream.models import Event as StoredEvent
from django_eventstream.models import EventCounter
from django_eventstream.storage import EventDoesNotExist

from rpa_workbench import events
from rpa_workbench.testing.threads import run_together


@pytest.fixture
def storage():
    return events.RetainedStorage()


@pytest.mark.django_db
def test_each_channel_numbers_its_events_from_one(storage):
    ids = [storage.append_event(channel, "t", {"n": n}).id for n, channel in enumerate("aabab")]
    assert ids == [1, 2, 1, 3, 2]
    assert EventCounter.objects.get(name="a").value == 3
    assert EventCounter.objects.get(name="b").value == 2


@pytest.mark.django_db
def test_replay_returns_the_events_after_an_id_in_order(storage):
    for n in range(5):
        storage.append_event("rpa", "log_created", f'{{"n": {n}}}')
    replay = storage.get_events("rpa", 2)
    assert [(event.id, event.type, event.data) for event in replay] == [
        (3, "log_created", '{"n": 2}'),
        (4, "log_created", '{"n": 3}'),
        (5, "log_created", '{"n": 4}'),
    ]
    assert storage.get_events("rpa", 0)[0].data == '{"n": 0}'  # from the very start
    assert storage.get_current_id("rpa") == 5


@pytest.mark.django_db
def test_a_counter_left_at_zero_still_gets_its_placeholder(storage):
    EventCounter.objects.create(name="rpa", value=0)  # the library made it, then failed
    assert storage.append_event("rpa", "t", "{}").id == 1
    assert storage.get_events("rpa", 0)[0].id == 1


@pytest.mark.django_db
def test_a_channel_keeps_only_its_last_events(storage, settings):
    settings.RPA_SSE_RETENTION_EVENTS = 150
    for _ in range(300):
        storage.append_event("busy", "t", "{}")
    storage.append_event("quiet", "t", "{}")
    kept = sorted(StoredEvent.objects.filter(channel="busy", eid__gt=0).values_list("eid", flat=True))
    assert kept == list(range(151, 301))
    with pytest.raises(EventDoesNotExist):
        storage.get_events("busy", 100)  # trimmed: the stream answers with stream-reset
    assert [event.id for event in storage.get_events("busy", 299)] == [300]
    assert StoredEvent.objects.filter(channel="quiet", eid=1).exists()


@pytest.mark.django_db
def test_events_older_than_the_retention_are_trimmed(storage, settings):
    settings.RPA_SSE_RETENTION_HOURS = 1
    old = storage.append_event("rpa", "t", "{}")
    StoredEvent.objects.filter(channel="rpa", eid=old.id).update(created="2020-01-01T00:00:00Z")
    events.RetainedStorage._last_age_trim = 0.0  # the age trim runs at most once a minute
    storage.append_event("rpa", "t", "{}")
    assert not StoredEvent.objects.filter(channel="rpa", eid=old.id).exists()
    assert StoredEvent.objects.filter(channel="rpa", eid=old.id + 1).exists()


@pytest.mark.django_db
def test_a_failed_store_writes_no_row_on_any_channel(monkeypatch):
    events.store_all([("t", "{}", ["rpa"])])  # the global channel exists
    before = StoredEvent.objects.count()
    real_take = events.RetainedStorage._take_next_id

    def fail_on_account_channel(channel):
        if channel.startswith(events.ACCOUNT_CHANNEL_PREFIX):
            raise RuntimeError("storage down")
        return real_take(channel)

    monkeypatch.setattr(events.RetainedStorage, "_take_next_id", staticmethod(fail_on_account_channel))
    assert events.store_all([("t", "{}", ["rpa", events.account_channel("x")])]) == [[None, None]]
    assert StoredEvent.objects.count() == before
    assert EventCounter.objects.get(name="rpa").value == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_publishers_get_unique_gap_free_ids(storage):
    """Eight threads (eight connections) store 25 two-channel events each at once."""
    storage.append_event("rpa", "t", "{}")
    storage.append_event("account-1", "t", "{}")

    def publish() -> None:
        for _ in range(25):
            [ids] = events.store_all([("t", "{}", ["rpa", "account-1"])])
            assert None not in ids

    run_together([publish] * 8)
    for channel in ("rpa", "account-1"):
        ids = sorted(StoredEvent.objects.filter(channel=channel, eid__gt=0).values_list("eid", flat=True))
        assert ids == list(range(1, 202))
        assert EventCounter.objects.get(name=channel).value == 201


@pytest.mark.django_db
def test_storing_inside_an_outer_transaction_rolls_back_with_it(storage):
    storage.append_event("rpa", "t", "{}")
    with pytest.raises(RuntimeError), transaction.atomic():
        storage.append_event("rpa", "t", "{}")
        raise RuntimeError
    assert storage.get_current_id("rpa") == 1
    assert storage.append_event("rpa", "t", "{}").id == 2


# --- publishing together --------------------------------------------------------------------


@pytest.fixture
def store_calls(monkeypatch):
    calls: list[list[str]] = []
    real = events.store_all

    def spy(items):
        calls.append([event_type for event_type, _, _ in items])
        return real(items)

    monkeypatch.setattr(events, "store_all", spy)
    return calls


def stored_types(channel: str = events.ALL_CHANNEL) -> list[str]:
    return list(
        StoredEvent.objects.filter(channel=channel, eid__gt=0).order_by("eid").values_list("type", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_stored_once_after_commit_in_publishing_order(store_calls, make_account):
    account = make_account()
    store_calls.clear()
    with transaction.atomic():
        with events.batch():
            events.publish_account_updated(account, {"status": "failed"})
            events.publish_log_created(
                SimpleNamespace(
                    pk="l1", shadow_bot_account="a", app_name="x", status="failed", account_id=account.pk
                )
            )
        assert store_calls == []  # nothing before the commit
    assert store_calls == [["account_updated", "log_created"]]
    assert stored_types()[-2:] == ["account_updated", "log_created"]
    assert stored_types(events.account_channel(account.pk))[-2:] == ["account_updated", "log_created"]


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_nothing_when_its_block_raises_or_its_transaction_rolls_back(store_calls, make_account):
    account = make_account()
    store_calls.clear()
    with pytest.raises(RuntimeError), transaction.atomic(), events.batch():
        events.publish_account_updated(account, {"status": "failed"})
        raise RuntimeError
    with transaction.atomic():
        with events.batch():
            events.publish_account_updated(account, {"status": "running"})
        transaction.set_rollback(True)
    assert store_calls == []


@pytest.mark.django_db(transaction=True)
def test_a_nested_batch_joins_the_outer_one(store_calls, make_account):
    account = make_account()
    store_calls.clear()
    with transaction.atomic(), events.batch():
        events.publish_account_updated(account, {"port": 1})
        with events.batch():
            events.publish_account_updated(account, {"port": 2})
    assert store_calls == [["account_updated", "account_updated"]]


@pytest.mark.django_db(transaction=True)
def test_an_execution_stores_its_three_events_in_one_transaction(store_calls, make_task):
    from datetime import UTC, datetime

    from executionlogs.services import record_execution

    task = make_task(status="running")
    store_calls.clear()
    record_execution(
        shadow_bot_account=task.account.shadow_bot_account,
        app_name=task.app_name,
        status="completed",
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert store_calls == [["account_updated", "task_updated", "log_created"]]


@pytest.mark.django_db(transaction=True)
def test_a_batch_drops_the_events_of_a_savepoint_that_rolled_back(store_calls, make_account):
    """Issue 13 item 9: the same rule as outside a batch (Django's on_commit and savepoints)."""
    account = make_account()
    store_calls.clear()
    with transaction.atomic(), events.batch():
        events.publish_account_updated(account, {"port": 1})
        with pytest.raises(RuntimeError), transaction.atomic():
            events.publish_account_updated(account, {"port": 2})
            raise RuntimeError
        with transaction.atomic():
            events.publish_log_created(
                SimpleNamespace(pk="l2", shadow_bot_account="a", app_name="x", status="ok", account_id=account.pk)
            )
    assert store_calls == [["account_updated", "log_created"]]
    assert [body["data"]["changes"] for body in _stored_bodies("account_updated")][-1:] == [{"port": 1}]


@pytest.mark.django_db(transaction=True)
def test_a_batch_inside_a_savepoint_that_rolls_back_sends_nothing(store_calls, make_account):
    account = make_account()
    store_calls.clear()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            with events.batch():
                events.publish_account_updated(account, {"port": 3})
            raise RuntimeError
        events.publish_account_updated(account, {"port": 4})
    assert store_calls == [["account_updated"]]


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_sends_at_once(store_calls, make_account):
    account = make_account()
    store_calls.clear()
    with events.batch():
        events.publish_account_updated(account, {"port": 5})
        events.publish_account_updated(account, {"port": 6})
    assert store_calls == [["account_updated", "account_updated"]]


def _stored_bodies(event_type: str) -> list[dict]:
    import json

    return [
        json.loads(json.loads(data))  # the encoded event, stored as a JSON string
        for data in StoredEvent.objects.filter(channel=events.ALL_CHANNEL, type=event_type, eid__gt=0)
        .order_by("eid")
        .values_list("data", flat=True)
    ]
