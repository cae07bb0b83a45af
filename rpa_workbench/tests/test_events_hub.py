"""This process's subscribers (`events.hub`): one heartbeat timer per event loop, and the events of
one workflow queued together and delivered at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.core.signals import request_finished
from django_eventstream.views import Listener

from rpa_workbench import event_hub, event_store, events


def listening(hub: events.Hub, channel: str) -> Listener:
    listener = Listener()
    listener.channels = {channel}
    listener.assign_loop()
    hub.add_listener(listener)
    return listener


def test_one_timer_per_loop_marks_every_stream_due_and_stops_with_the_last(settings):
    settings.RPA_SSE_HEARTBEAT_SECONDS = 0.05
    hub = events.Hub()

    async def scenario() -> tuple[list[bool], bool, bool]:
        listeners = [listening(hub, channel) for channel in ("rpa", "account-1")]
        one_timer = len(hub._heartbeat_timers) == 1
        await asyncio.wait_for(asyncio.gather(*(listener.aevent.wait() for listener in listeners)), 2)
        due = [listener.heartbeat_due for listener in listeners]
        for listener in listeners:
            hub.remove_listener(listener)
        await asyncio.sleep(0.15)
        return due, one_timer, not hub._heartbeat_timers

    due, one_timer, stopped = asyncio.run(scenario())
    assert due == [True, True]
    assert one_timer
    assert stopped


def workflow_burst() -> list[tuple[str, events.Event]]:
    return [
        ("rpa", events.Event("rpa", event_type, "{}", id=n))
        for n, event_type in enumerate((events.ACCOUNT_UPDATED, events.TASK_UPDATED, events.LOG_CREATED), 1)
    ]


def test_a_workflows_events_wake_a_stream_once_with_all_of_them():
    hub = events.Hub()
    wakes: list[object] = []
    wake = hub._wake

    def counting_wake(loop) -> None:
        wakes.append(loop)
        wake(loop)

    hub._wake = counting_wake

    async def scenario() -> list[str]:
        listener = listening(hub, "rpa")
        # Published from a request's worker thread, as after a webhook's commit (default delay).
        threading.Thread(target=hub.queue, args=(workflow_burst(),)).start()
        await asyncio.wait_for(listener.aevent.wait(), 2)
        await asyncio.sleep(0.1)  # time for any further wake-up to show
        queued = [event.type for event in listener.channel_items["rpa"]]
        hub.remove_listener(listener)
        return queued

    assert asyncio.run(scenario()) == [events.ACCOUNT_UPDATED, events.TASK_UPDATED, events.LOG_CREATED]
    assert len(wakes) == 1


def test_the_end_of_a_request_wakes_the_streams_without_waiting_for_the_batch_delay(settings, monkeypatch):
    settings.RPA_SSE_BATCH_SECONDS = 5  # would show as a five-second wait
    hub = events.Hub()
    monkeypatch.setattr(events, "hub", hub)

    def request_that_publishes() -> None:
        hub.queue(workflow_burst())  # waits RPA_SSE_BATCH_SECONDS unless woken sooner
        request_finished.send(sender=None)  # Django sends it once the response is out

    async def scenario() -> float:
        listener = listening(hub, "rpa")
        began = time.monotonic()
        threading.Thread(target=request_that_publishes).start()
        await asyncio.wait_for(listener.aevent.wait(), 2)
        hub.remove_listener(listener)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 1


def test_an_event_arriving_alone_waits_for_the_rest_of_its_burst(settings):
    """From Redis each event is its own message: the wake-up waits RPA_SSE_BATCH_SECONDS so the
    others of the burst join the same write."""
    settings.RPA_SSE_BATCH_SECONDS = 1.0
    hub = events.Hub()

    async def scenario() -> list[str]:
        listener = listening(hub, "rpa")
        loop = asyncio.get_running_loop()
        for n, event_type in enumerate((events.ACCOUNT_UPDATED, events.LOG_CREATED), 1):
            await loop.run_in_executor(None, hub.add_to_queues, "rpa", events.Event("rpa", event_type, "{}", id=n))
            await asyncio.sleep(0.05)
            assert not listener.aevent.is_set()
        await asyncio.wait_for(listener.aevent.wait(), 2)
        queued = [event.type for event in listener.channel_items["rpa"]]
        hub.remove_listener(listener)
        return queued

    assert asyncio.run(scenario()) == [events.ACCOUNT_UPDATED, events.LOG_CREATED]


def test_a_full_collection_runs_after_every_200_closed_streams_and_not_before(monkeypatch):
    """Closed streams leave reference cycles that only a full collection frees, and the server
    makes those rare; churn triggers them, an idle or steady server does not."""
    hub = events.Hub()
    collections: list[int] = []
    monkeypatch.setattr(event_hub.gc, "collect", lambda *args: collections.append(len(collections)))

    async def open_and_close(count: int) -> None:
        listeners = [listening(hub, "rpa") for _ in range(count)]
        for listener in listeners:
            hub.remove_listener(listener)

    asyncio.run(open_and_close(events.Hub.COLLECT_AFTER_CLOSED_STREAMS - 1))
    assert collections == []
    asyncio.run(open_and_close(1))
    assert len(collections) == 1
    asyncio.run(open_and_close(events.Hub.COLLECT_AFTER_CLOSED_STREAMS - 1))
    assert len(collections) == 1


@pytest.mark.django_db(transaction=True)
def test_events_arriving_out_of_order_reach_streams_in_id_order_with_gaps_read_from_the_outbox(make_account):
    """Two requests' after-commit hand-overs race, and a management command's event reaches no
    hub at all: the hub delivers the next id at once and reads a gap from the outbox."""
    account = make_account()
    for port in (1, 2, 3, 4):
        events.publish_account_updated(account, {"port": port})
    first, from_command, third, fourth = event_store.read_after(0)
    hub = events.Hub()

    async def scenario() -> list[int]:
        listener = listening(hub, "rpa")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, hub.receive, [first])  # before the hub has a position
        hub.note_position(first.position - 1)  # the stream's read, before its replay
        for rows in ([first], [third], [fourth], [third]):  # `from_command` never handed over
            await loop.run_in_executor(None, hub.receive, rows)
        await asyncio.sleep(0.05)
        delivered = [event.id for event in listener.channel_items["rpa"]]
        hub.remove_listener(listener)
        return delivered

    assert asyncio.run(scenario()) == [first.position, from_command.position, third.position, fourth.position]
