"""This process's subscribers (`hub`), fed in id order; the project's own small stream plumbing.

Streams subscribe here; events reach it after their commit from this process's requests
(`events.hand_over`) and its sequencer loop. They can arrive out of order (two requests'
after-commit hand-overs race), so `receive` delivers them in position order: the next position
goes out at once, and one beyond the next makes the hub read the missing ones from the outbox
(positions are stamped in commit order, see `rpa_workbench.event_store`, so every position below
a stamped one is readable). An event stamped by another process (a management command) is found
by the same read once any later event arrives, and by every stream's replay; several processes
share live events through Pushpin (`rpa_workbench.pushpin`). (Events below are "ids": an
event's position is its id in every stream.)

No library internals: `Listener` and the subscriber sets are ours (docs/architecture.md,
"Private overrides").
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.db import connections

from rpa_workbench import event_store
from rpa_workbench.event_store import StoredRow
from rpa_workbench.sse_wire import LiveEvent

logger = logging.getLogger(__name__)

# Beyond this many queued events a stream re-reads storage instead.
MAX_PENDING = 100


def channel_events(rows: list[StoredRow]) -> list[LiveEvent]:
    """Each row as a live event on each channel it belongs to (the id line differs per channel)."""
    return [LiveEvent(channel, row.type, row.data, row.position) for row in rows for channel in row.channels()]


class Listener:
    """One open stream: its channels, what is queued for it, and the event that wakes it.
    Created on the stream's event loop; the hub's lock guards the queued state."""

    def __init__(self, channels: set[str], user_id: Any = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.aevent = asyncio.Event()
        self.user_id = user_id
        self.channels = set(channels)
        self.channel_items: dict[str, list[LiveEvent]] = {}
        self.overflow = False
        self.heartbeat_due = False


class Hub:
    """This process's subscribers, by channel: one wake-up per event loop and burst, one
    heartbeat timer per event loop, and a count of connected clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.listeners_by_channel: dict[str, set[Listener]] = {}
        self.connected = 0
        self._closed_since_collect = 0
        self._wake_pending: set[Any] = set()
        self._woken: dict[Any, set[Listener]] = {}
        self._heartbeat_timers: dict[Any, asyncio.TimerHandle] = {}
        # Ordering (see `receive`): the last id delivered, and what arrived ahead of a gap.
        self.order_lock = threading.Lock()
        self.last_id: int | None = None
        self.ahead: dict[int, StoredRow] = {}

    def add_listener(self, listener: Listener) -> None:
        """Called from a stream, on the server's event loop."""
        with self.lock:
            for channel in listener.channels:
                self.listeners_by_channel.setdefault(channel, set()).add(listener)
            self.connected += 1
        if listener.loop not in self._heartbeat_timers:
            self._schedule_heartbeat(listener.loop)

    # A full garbage collection after this many streams have closed (see remove_listener).
    COLLECT_AFTER_CLOSED_STREAMS = 200

    def remove_listener(self, listener: Listener) -> None:
        with self.lock:
            for channel in listener.channels:
                subscribers = self.listeners_by_channel.get(channel)
                if subscribers is not None:
                    subscribers.discard(listener)
                    if not subscribers:
                        del self.listeners_by_channel[channel]
            self.connected -= 1
            self._closed_since_collect += 1
            collect = self._closed_since_collect >= self.COLLECT_AFTER_CLOSED_STREAMS
            if collect:
                self._closed_since_collect = 0
        if collect:
            # Each closed stream leaves its request, tasks and tracebacks in a reference cycle
            # (Django's ASGI handler ends a disconnected request through exceptions), which only
            # a full collection frees, and the server makes those rare on purpose
            # (`rpa_workbench.handler.tune_garbage_collector`). Without churn, none runs here.
            # Measured: bench/README.md, "Garbage collection" (RSS levels off instead of climbing).
            gc.collect()

    def receive(self, rows: list[StoredRow]) -> None:
        """Committed events, in any order: deliver them in id order (see the module's doc)."""
        with self.order_lock:
            if not self.listeners_by_channel:  # nobody listens: nothing to order
                self.last_id, self.ahead = None, {}
                return
            for row in rows:
                if self.last_id is None or row.position > self.last_id:
                    self.ahead[row.position] = row
            ready, gap_end = self._take_ready(), self._gap_end()
        self._deliver(ready, gap_end)

    def needs_position(self) -> bool:
        """Whether the hub has no position yet (its first stream gives it one)."""
        return self.last_id is None

    def note_position(self, position: int) -> None:
        """The outbox's newest id, read by a subscribed stream before its replay read: from
        here on the hub orders. Until then events wait (a stream's replay covers up to here)."""
        with self.order_lock:
            if self.last_id is not None or not self.listeners_by_channel:
                return
            self.last_id = position
            for event_id in [event_id for event_id in self.ahead if event_id <= position]:
                del self.ahead[event_id]
            ready, gap_end = self._take_ready(), self._gap_end()
        self._deliver(ready, gap_end)

    def _take_ready(self) -> list[StoredRow]:
        """Pop the rows that follow `last_id` without a gap (the caller holds `order_lock`)."""
        ready = []
        while self.last_id is not None and self.last_id + 1 in self.ahead:
            self.last_id += 1
            ready.append(self.ahead.pop(self.last_id))
        return ready

    def _gap_end(self) -> int | None:
        """The newest row waiting behind a gap (the caller holds `order_lock`)."""
        return max(self.ahead) if self.ahead else None

    def _deliver(self, ready: list[StoredRow], gap_end: int | None) -> None:
        """Outside `order_lock`: queue the rows that are in order, then fill the gap, if any."""
        if ready:
            self.queue(channel_events(ready))
        if gap_end is not None:
            self._fill_gap(gap_end)

    def _fill_gap(self, gap_end: int) -> None:
        """Read the ids missing below `gap_end` from the outbox (in a worker thread when called on
        the event loop), then deliver everything up to `gap_end` in order."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._read_gap(gap_end)
        else:
            loop.run_in_executor(None, self._read_gap_closing, gap_end)

    def _read_gap_closing(self, gap_end: int) -> None:
        try:
            self._read_gap(gap_end)
        finally:
            connections.close_all()

    def _read_gap(self, gap_end: int) -> None:
        with self.order_lock:
            start = self.last_id
        if start is None or start >= gap_end:  # no position yet: `note_position` will do it
            return
        try:
            missing = event_store.read_after(start, limit=gap_end - start)
        except Exception:  # noqa: BLE001 — deliver what we have; streams replay the rest
            logger.exception("could not read events %s..%s from the outbox", start + 1, gap_end)
            missing = []
        with self.order_lock:
            if self.last_id is None:
                return
            for row in missing:
                if self.last_id < row.position <= gap_end:
                    self.ahead.setdefault(row.position, row)
            ready = [self.ahead.pop(event_id) for event_id in sorted(self.ahead) if self.last_id < event_id <= gap_end]
            if ready:
                self.last_id = max(self.last_id, gap_end)
            ready += self._take_ready()
        if ready:
            self.queue(channel_events(ready))

    def queue(self, live_events: list[LiveEvent]) -> None:
        """Queue each event for every listener of its channel, then wake the streams: one
        wake-up per event loop, after `RPA_SSE_BATCH_SECONDS` (events queued while one is
        pending join it; a request of this process finishing brings it forward: `wake_now`).

        The events of one workflow (a webhook's three, handed over together) are all queued
        before any stream wakes, so each stream sends them in one write (a thread-safe callback
        per listener and event, as django-eventstream's manager does, cost far more:
        bench/README.md, "Benchmark: `bench/sse_fanout.py`")."""
        schedule: list[Any] = []
        with self.lock:
            for event in live_events:
                channel = event.channel
                for listener in self.listeners_by_channel.get(channel, ()):
                    items = listener.channel_items.setdefault(channel, [])
                    if len(items) < MAX_PENDING:
                        items.append(event)
                    else:
                        listener.overflow = True
                    self._woken.setdefault(listener.loop, set()).add(listener)
                    if listener.loop not in self._wake_pending:
                        self._wake_pending.add(listener.loop)
                        schedule.append(listener.loop)
        delay = float(getattr(settings, "RPA_SSE_BATCH_SECONDS", 0.01))
        for loop in schedule:
            with suppress(RuntimeError):  # a closed loop: its streams are gone
                loop.call_soon_threadsafe(loop.call_later, delay, self._wake, loop)

    def wake_now(self) -> None:
        """Run the pending wake-ups at once instead of after their delay."""
        if not self._wake_pending:  # the usual case, read without the lock
            return
        with self.lock:
            loops = list(self._wake_pending)
        for loop in loops:
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake, loop)

    def _wake(self, loop: Any) -> None:
        """On `loop`: wake every stream with queued events."""
        with self.lock:
            self._wake_pending.discard(loop)
            listeners = self._woken.pop(loop, ())
        for listener in listeners:
            listener.aevent.set()

    def _schedule_heartbeat(self, loop: Any) -> None:
        interval = float(getattr(settings, "RPA_SSE_HEARTBEAT_SECONDS", 30))
        self._heartbeat_timers[loop] = loop.call_later(interval, self._heartbeat, loop)

    def _listeners(self) -> set[Listener]:
        """Every stream of this process (the caller holds `self.lock`)."""
        return set().union(*self.listeners_by_channel.values())

    def _heartbeat(self, loop: Any) -> None:
        """On `loop`, every `RPA_SSE_HEARTBEAT_SECONDS`: mark each of its streams due for a
        heartbeat and wake it. One timer per event loop, instead of a timeout armed by every
        stream on every wake-up."""
        with self.lock:
            listeners = [listener for listener in self._listeners() if listener.loop is loop]
            for listener in listeners:
                listener.heartbeat_due = True
        for listener in listeners:
            listener.aevent.set()
        if listeners:
            self._schedule_heartbeat(loop)
        else:
            del self._heartbeat_timers[loop]


hub = Hub()


def connected_clients() -> int:
    """Streams this process holds (through Pushpin: none, Pushpin holds them)."""
    return hub.connected
