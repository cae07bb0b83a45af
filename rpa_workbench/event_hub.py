"""This process's subscribers (`hub`): django-eventstream's ListenerManager, fed in id order.

Streams subscribe here; events reach it after their commit — from this process's requests
(`events.hand_over`) or, with `EVENTSTREAM_REDIS`, from every process through Redis pub/sub.
They can arrive out of order (two requests' after-commit hand-overs race; Redis carries several
publishers), so `receive` delivers them in position order: the next position goes out at once,
and one beyond the next makes the hub read the missing ones from the outbox (positions are
stamped in commit order, see `rpa_workbench.event_store`, so every position below a stamped one
is readable). An event stamped by a process the hub does not hear from (a management command
without Redis) is found by the same read once any later event arrives, and by every stream's
replay. (Events below are "ids": an event's position is its id in every stream.)

Private overrides (written for django-eventstream 5.3.4, pinned by tests/test_events_hub.py):
`__init__` (no library RedisListener), and `add_to_queues` routing into our batching `queue`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
import threading
import uuid
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.db import connections
from django_eventstream.event import Event
from django_eventstream.views import Listener, ListenerManager

from rpa_workbench import event_store
from rpa_workbench.event_store import StoredRow

logger = logging.getLogger(__name__)

# Our pub/sub channel (not the library's "events_channel": its messages are per channel).
REDIS_CHANNEL = "rpa:events"
CLIENTS_KEY_PREFIX = "rpa:sse:clients:"
CLIENTS_REPORT_SECONDS = 15.0


def redis_options() -> dict[str, Any] | None:
    """`settings.EVENTSTREAM_REDIS` (built from EVENTSTREAM_REDIS_URL), or None when unset."""
    options = getattr(settings, "EVENTSTREAM_REDIS", None)
    return dict(options) if options else None


def encode_rows(rows: list[StoredRow]) -> str:
    return json.dumps({"events": [[row.position, row.type, row.account_id, row.data] for row in rows]})


def decode_rows(raw: bytes | str) -> list[StoredRow]:
    return [StoredRow(int(event_id), str(kind), account, str(data)) for event_id, kind, account, data in json.loads(raw)["events"]]


def channel_events(rows: list[StoredRow]) -> list[tuple[str, Event]]:
    """Each row as an Event on each channel it belongs to (the id line differs per channel)."""
    return [(channel, Event(channel, row.type, row.data, id=row.position)) for row in rows for channel in row.channels()]


class Hub(ListenerManager):
    """This process's subscribers, by channel (django-eventstream's ListenerManager).

    Differences from the library's manager: it counts connected clients; with Redis it runs one
    subscription per process that reconnects with backoff after Redis restarts (the library's
    dies for good) and, each time it (re)subscribes, makes every stream re-read storage so
    nothing published meanwhile is lost; and it reports this process's client count to Redis so
    `/sse/status` can add up every process."""

    def __init__(self) -> None:
        # Deliberately not calling super().__init__: that would build the library's RedisListener.
        self.lock = threading.Lock()
        self.listeners_by_channel: dict[str, set[Listener]] = {}
        self.redis_listener = None
        self.redis_listener_started = False
        self.connected = 0
        self._closed_since_collect = 0
        self._wake_pending: set[Any] = set()
        self._woken: dict[Any, set[Listener]] = {}
        self._tasks: list[asyncio.Task] = []
        self._heartbeat_timers: dict[Any, asyncio.TimerHandle] = {}
        self._count_changed: asyncio.Event | None = None
        # Ordering (see `receive`): the last id delivered, and what arrived ahead of a gap.
        self.order_lock = threading.Lock()
        self.last_id: int | None = None
        self.ahead: dict[int, StoredRow] = {}
        self.process_key = f"{CLIENTS_KEY_PREFIX}{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def add_listener(self, listener: Listener) -> None:
        """Called from a stream, on the server's event loop."""
        listener.heartbeat_due = False
        super().add_listener(listener)
        with self.lock:
            self.connected += 1
        if listener.loop not in self._heartbeat_timers:
            self._schedule_heartbeat(listener.loop)
        if redis_options() is not None:
            self._start_redis_tasks()
            self._count_changed.set()

    # A full garbage collection after this many streams have closed (see remove_listener).
    COLLECT_AFTER_CLOSED_STREAMS = 200

    def remove_listener(self, listener: Listener) -> None:
        super().remove_listener(listener)
        with self.lock:
            self.connected -= 1
            self._closed_since_collect += 1
            collect = self._closed_since_collect >= self.COLLECT_AFTER_CLOSED_STREAMS
            if collect:
                self._closed_since_collect = 0
        if self._count_changed is not None:
            self._count_changed.set()
        if collect:
            # Each closed stream leaves its request, tasks and tracebacks in a reference cycle
            # (Django's ASGI handler ends a disconnected request through exceptions), which only
            # a full collection frees, and the server makes those rare on purpose
            # (`rpa_workbench.handler.tune_garbage_collector`). Without churn, none runs here.
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

    def add_to_queues(self, channel: str, event: Event) -> None:
        """Queue one event arriving on its own (the library's interface).

        The wake-up waits `RPA_SSE_BATCH_SECONDS` so that the other events of the same burst
        join it and reach each stream as one write. A request of this process finishing
        meanwhile brings the wake-up forward (`wake_now`)."""
        self.queue([(channel, event)])

    def queue(self, channel_events: list[tuple[str, Event]]) -> None:
        """Queue each (channel, event) for every listener of its channel, then wake the streams:
        one wake-up per event loop, after `RPA_SSE_BATCH_SECONDS` (events queued while one is
        pending join it; `wake_now` brings it forward).

        The library schedules one thread-safe callback (a self-pipe write) per listener and per
        event. Here the events of one workflow (a webhook's three, handed over together) are all
        queued before any stream wakes, so each stream sends them in one write."""
        max_pending = 100  # beyond it the stream re-reads storage (the library's MAX_PENDING is 10)
        schedule: list[Any] = []
        with self.lock:
            for channel, event in channel_events:
                for listener in self.listeners_by_channel.get(channel, ()):
                    items = listener.channel_items.setdefault(channel, [])
                    if len(items) < max_pending:
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

    def resync(self) -> None:
        """Make every stream re-read storage from its last id (events may have been missed)."""
        with self.lock:
            for listener in self._listeners():
                listener.overflow = True
                listener.wake_threadsafe()

    def _start_redis_tasks(self) -> None:
        if self._tasks and not all(task.done() for task in self._tasks):
            return
        loop = asyncio.get_running_loop()
        self._count_changed = asyncio.Event()
        self._tasks = [loop.create_task(self._subscribe_forever()), loop.create_task(self._report_forever())]

    async def _subscribe_forever(self) -> None:
        from redis.asyncio import Redis

        delay = 0.5
        while True:
            client = Redis(
                **{"socket_connect_timeout": 2, "socket_keepalive": True, **(redis_options() or {})}
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(REDIS_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "subscribe":
                        delay = 0.5
                        self.resync()
                    elif message.get("type") == "message":
                        self.deliver_message(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — any Redis failure: log, back off, retry
                logger.warning("Redis event subscription lost (%s); retrying in %.1fs", exc, delay)
            finally:
                with suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def deliver_message(self, raw: bytes | str) -> None:
        """One message from the Redis channel: the rows one commit stored."""
        try:
            rows = decode_rows(raw)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed event message from Redis")
            return
        self.receive(rows)

    async def _report_forever(self) -> None:
        """Keep `<prefix><host>:<pid>` = this process's client count in Redis, expiring unless
        refreshed, so a crashed process stops counting after a few report periods."""
        from redis.asyncio import Redis

        client = Redis(**{"socket_connect_timeout": 2, "socket_timeout": 2, **(redis_options() or {})})
        try:
            while True:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._count_changed.wait(), CLIENTS_REPORT_SECONDS)
                self._count_changed.clear()
                try:
                    await client.set(self.process_key, self.connected, ex=int(CLIENTS_REPORT_SECONDS * 3))
                except Exception as exc:  # noqa: BLE001
                    logger.warning("could not report SSE client count to Redis (%s)", exc)
                    await asyncio.sleep(1)
        finally:
            with suppress(Exception):
                await client.aclose()



hub = Hub()


def redis_publisher():
    """A shared synchronous Redis client with short timeouts: a hung Redis must not hang the
    request that publishes (the library's own client has no timeout)."""
    global _publisher
    options = redis_options()
    if options is None:
        return None
    key = repr(sorted(options.items()))
    with _publisher_lock:
        if _publisher is None or _publisher[0] != key:
            import redis

            client = redis.Redis(**{"socket_connect_timeout": 2, "socket_timeout": 2, **options})
            _publisher = (key, client)
        return _publisher[1]


_publisher: tuple[str, Any] | None = None
_publisher_lock = threading.Lock()


def connected_clients() -> int:
    """Clients connected to every server process sharing Redis, or to this process without it."""
    client = redis_publisher()
    if client is None:
        return hub.connected
    try:
        keys = list(client.scan_iter(match=f"{CLIENTS_KEY_PREFIX}*", count=500))
        others = [
            int(value)
            for key, value in zip(keys, client.mget(keys) if keys else [], strict=True)
            if value is not None and key.decode() != hub.process_key
        ]
    except Exception as exc:  # noqa: BLE001
        logger.warning("could not read SSE client counts from Redis (%s); counting this process only", exc)
        return hub.connected
    return hub.connected + sum(others)
