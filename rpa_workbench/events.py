"""Live events (API.md §6): the one module that names channels, builds payloads and publishes.

Every state change calls one `publish_*` function here. Publishing waits for the surrounding
transaction to commit (`transaction.on_commit`), so a rolled-back change sends nothing, and a
broken event backend (database storage, Redis) is logged, never allowed to fail the request that
caused the change. The events of one workflow (a webhook's account, task and log events) are
published inside `with events.batch():` and stored together, in one transaction.

Delivery path of one event (see `rpa_workbench.sse` for the reading side):
1. the payload `{"type", "data"}` is JSON-encoded once;
2. it is appended to django-eventstream's `DjangoModelStorage` (our `RetainedStorage`), which
   gives it a per-channel sequential id, so reconnecting clients can replay what they missed;
3. it is handed to the subscribers: directly to this process's `hub` in the single-process
   set-up, or — when `EVENTSTREAM_REDIS` is configured — published on a Redis pub/sub channel
   that every server process (this one included) listens to, so a change made in one process
   (a second Daphne, a management command) reaches subscribers connected to another.
   If Redis is down the event still reaches this process's subscribers and the others catch up
   from storage when their Redis subscription comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import gc
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_eventstream.channelmanager import DefaultChannelManager
from django_eventstream.event import Event
from django_eventstream.storage import DjangoModelStorage
from django_eventstream.utils import get_storage
from django_eventstream.views import Listener, ListenerManager

from rpa_workbench.timefmt import ApiJSONEncoder, api_values

logger = logging.getLogger(__name__)

ALL_CHANNEL = "rpa"
ACCOUNT_CHANNEL_PREFIX = "account-"

LOG_CREATED = "log_created"
ACCOUNT_UPDATED = "account_updated"
TASK_UPDATED = "task_updated"
HEARTBEAT = "heartbeat"
ALERT = "alert"
STREAM_RESET = "stream-reset"

# Pub/sub channel every server process subscribes to when EVENTSTREAM_REDIS is set. Same name and
# message shape as django-eventstream's own Redis fan-out, so both interoperate.
REDIS_CHANNEL = "events_channel"


def account_channel(account_id: Any) -> str:
    return f"{ACCOUNT_CHANNEL_PREFIX}{account_id}"


def snapshot(instance, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values of `fields` now, to diff against after a change."""
    return {name: getattr(instance, name) for name in fields}


def changed(before: dict[str, Any], instance) -> dict[str, Any]:
    """The fields whose value differs from `before`, with their new values."""
    return {name: getattr(instance, name) for name, old in before.items() if getattr(instance, name) != old}


# --- payloads ------------------------------------------------------------------------------


def payload(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The `data:` line of every event: the type repeated next to its data (API.md §6), its
    datetimes already written as the REST API writes them (one format on every stream)."""
    return {"type": event_type, "data": api_values(data)}


def account_updated_payload(account, changes: dict[str, Any]) -> dict[str, Any]:
    return payload(
        ACCOUNT_UPDATED,
        {"account_id": str(account.pk), "shadow_bot_account": account.shadow_bot_account, "changes": changes},
    )


def task_updated_payload(task, changes: dict[str, Any]) -> dict[str, Any]:
    return payload(
        TASK_UPDATED,
        {
            "task_id": str(task.pk),
            "shadow_bot_account": task.account.shadow_bot_account,
            "app_name": task.app_name,
            "changes": changes,
        },
    )


def log_created_payload(log) -> dict[str, Any]:
    return payload(
        LOG_CREATED,
        {
            "log_id": str(log.pk),
            "shadow_bot_account": log.shadow_bot_account,
            "app_name": log.app_name,
            "status": log.status,
        },
    )


def alert_payload(alert) -> dict[str, Any]:
    return payload(
        ALERT,
        {
            "alert_id": str(alert.pk),
            "event": alert.event,
            "severity": alert.severity,
            "message": alert.message,
            "account_id": str(alert.account_id) if alert.account_id else None,
            "task_id": str(alert.task_id) if alert.task_id else None,
            "job_id": str(alert.job_id) if alert.job_id else None,
        },
    )


def heartbeat_payload(now: datetime.datetime | None = None) -> dict[str, Any]:
    return payload(HEARTBEAT, {"timestamp": now or timezone.now()})


def encode(data: dict[str, Any]) -> str:
    return json.dumps(data, cls=ApiJSONEncoder)


# --- channels and storage ------------------------------------------------------------------


class ChannelManager(DefaultChannelManager):
    """Every authorised reader sees the global channel; `?account_id=` narrows to one account.

    The stream view has already authenticated the user and validated `account_id`."""

    def get_channels_for_request(self, request, view_kwargs):
        account_id = request.GET.get("account_id")
        if account_id:
            return {account_channel(account_id)}
        return {ALL_CHANNEL}

    def can_read_channel(self, user, channel):
        return bool(user is not None and user.is_authenticated)

    def is_channel_reliable(self, channel):
        return True


class RetainedStorage(DjangoModelStorage):
    """django-eventstream's `DjangoModelStorage` (same tables, same per-channel sequential ids,
    read back by the library's `get_events`), cheaper to append to and with a bounded retention.

    Appending takes the channel's next id with one `UPDATE … RETURNING` on its counter row (which
    also holds the row lock until commit, so ids commit in order on PostgreSQL; SQLite has one
    writer anyway) and inserts the event: two statements, where the library's `Event.save` runs
    six (get-or-create, savepoint, `SELECT … FOR UPDATE`, insert, full counter save, release)
    and trims by age one row at a time on every append. A channel's first event still goes
    through the library (it creates the counter and the id-0 placeholder replay reads need).

    Retention: an event is kept for `RPA_SSE_RETENTION_HOURS` (default 24) and each channel keeps
    at most its last `RPA_SSE_RETENTION_EVENTS` (default 10000) events, whichever is smaller.
    The age trim is one bulk DELETE at most once a minute per process; the count trim runs every
    100th event of a channel. A client whose Last-Event-ID points at a trimmed event gets a
    `stream-reset` event instead of a replay (it should reload its data)."""

    AGE_TRIM_INTERVAL = 60.0
    COUNT_TRIM_EVERY = 100
    _last_age_trim = 0.0
    _trim_lock = threading.Lock()

    def append_event(self, channel, event_type, data):
        from django_eventstream.models import Event as StoredEvent

        with transaction.atomic(savepoint=False):
            event_id = self._take_next_id(channel)
            if event_id is None:  # the channel's first event: the library sets the channel up
                event = super().append_event(channel, event_type, data)
                event_id = event.id
            else:
                StoredEvent.objects.bulk_create(
                    [
                        StoredEvent(
                            channel=channel,
                            type=event_type,
                            data=json.dumps(data, cls=ApiJSONEncoder),
                            eid=event_id,
                            created=timezone.now(),
                        )
                    ]
                )
                event = Event(channel, event_type, data, id=event_id)
                self.trim_event_log()
        keep = int(getattr(settings, "RPA_SSE_RETENTION_EVENTS", 10000))
        if event_id % self.COUNT_TRIM_EVERY == 0 and event_id > keep:
            StoredEvent.objects.filter(channel=channel, eid__lte=event_id - keep).delete()
        return event

    @staticmethod
    def _take_next_id(channel: str) -> int | None:
        """Increment the channel's counter and return the new value; None if it has none yet (or
        one the library created but never used, whose id-0 placeholder may be missing)."""
        from django_eventstream.models import EventCounter

        connection = transaction.get_connection()
        quote = connection.ops.quote_name
        sql = (
            f"UPDATE {quote(EventCounter._meta.db_table)} SET {quote('value')} = {quote('value')} + 1, "
            f"{quote('updated')} = %s WHERE {quote('name')} = %s AND {quote('value')} > 0 "
            f"RETURNING {quote('value')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [connection.ops.adapt_datetimefield_value(timezone.now()), channel])
            row = cursor.fetchone()
        return int(row[0]) if row else None

    def trim_event_log(self):
        with self._trim_lock:
            now = time.monotonic()
            if now - RetainedStorage._last_age_trim < self.AGE_TRIM_INTERVAL:
                return
            RetainedStorage._last_age_trim = now
        from django_eventstream.models import Event as StoredEvent

        hours = float(getattr(settings, "RPA_SSE_RETENTION_HOURS", 24))
        StoredEvent.objects.filter(created__lt=timezone.now() - datetime.timedelta(hours=hours)).delete()


# --- subscribers of this process -----------------------------------------------------------

CLIENTS_KEY_PREFIX = "rpa:sse:clients:"
CLIENTS_REPORT_SECONDS = 15.0


def redis_options() -> dict[str, Any] | None:
    """`settings.EVENTSTREAM_REDIS` (built from EVENTSTREAM_REDIS_URL), or None when unset."""
    options = getattr(settings, "EVENTSTREAM_REDIS", None)
    return dict(options) if options else None


_publisher: tuple[str, Any] | None = None
_publisher_lock = threading.Lock()


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

    def add_to_queues(self, channel: str, event: Event) -> None:
        """Queue one event arriving on its own (from Redis, one message per event and channel).

        The wake-up waits `RPA_SSE_BATCH_SECONDS` so that the other events of the same burst,
        arriving as further messages, join it and reach each stream as one write. A request of
        this process finishing meanwhile brings the wake-up forward (`wake_now`): the rest of the
        burst then follows in a second write, in order; nothing is lost."""
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
        """One message from the Redis channel (same shape as django-eventstream's own)."""
        try:
            message = json.loads(raw)
            pub_id = message.get("pub_id")
            event = Event(
                message["channel"], message["event_type"], message["data"], id=int(pub_id) if pub_id else None
            )
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed event message from Redis")
            return
        self.add_to_queues(event.channel, event)

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


# --- sending -------------------------------------------------------------------------------


def store_all(events_to_store: list[tuple[str, str, list[str]]]) -> list[list[int | None]]:
    """Append each (event type, encoded event, channels) to its channels' storage, all in one
    transaction; the ids per event and channel, or None everywhere when storing failed (the
    events are still worth delivering live; they just cannot be replayed)."""
    storage = get_storage()
    try:
        with transaction.atomic():
            return [
                [storage.append_event(channel, event_type, encoded).id for channel in channels]
                for event_type, encoded, channels in events_to_store
            ]
    except Exception:
        logger.exception("could not store %s", ", ".join(event_type for event_type, _, _ in events_to_store))
        return [[None] * len(channels) for _, _, channels in events_to_store]


def hand_over(stored: list[tuple[str, str, str, int | None]]) -> None:
    """Give stored events (channel, type, encoded data, id) to every subscriber: through Redis to
    every process when configured, else (or when Redis fails) to this process's streams, all
    queued before any of them wakes."""
    publisher = redis_publisher()
    local: list[tuple[str, Event]] = []
    for channel, event_type, encoded, event_id in stored:
        if publisher is not None:
            message = {"channel": channel, "event_type": event_type, "data": encoded, "pub_id": event_id}
            try:
                publisher.publish(REDIS_CHANNEL, json.dumps(message))
                continue
            except Exception:
                logger.exception("could not publish %s on Redis; delivering to this process only", event_type)
        local.append((channel, Event(channel, event_type, encoded, id=event_id)))
    if local:
        hub.queue(local)


def wake_streams_after_request(**kwargs: Any) -> None:
    """`request_finished` receiver. A request's events wait `RPA_SSE_BATCH_SECONDS` to be joined
    by the rest of their burst; once the request has sent its response they all are, so the
    streams wake now. Not sooner: fanning out on the event loop while the request's thread is
    still working makes both wait for each other (the webhook's response, and so every
    delivery, came later)."""
    hub.wake_now()


def channels_for(account_id: Any | None) -> list[str]:
    return [ALL_CHANNEL] if account_id is None else [ALL_CHANNEL, account_channel(account_id)]


def _send(items: list[tuple[str, dict[str, Any], Any | None]]) -> None:
    """Store `items` (event type, payload, account id) in one transaction, then hand each over.

    Stored first and handed over only once committed: a stream that reads storage on a gap must
    find the event there."""
    encoded: list[tuple[str, str, list[str]]] = []
    for event_type, body, account_id in items:
        try:
            encoded.append((event_type, encode(body), channels_for(account_id)))
        except Exception:
            logger.exception("could not encode %s event", event_type)
    stored = [
        (channel, event_type, data, event_id)
        for (event_type, data, channels), event_ids in zip(encoded, store_all(encoded), strict=True)
        for channel, event_id in zip(channels, event_ids, strict=True)
    ]
    try:
        hand_over(stored)
    except Exception:
        logger.exception("could not publish %s", ", ".join(event_type for _, event_type, _, _ in stored))


_batch: contextvars.ContextVar[list | None] = contextvars.ContextVar("rpa_event_batch", default=None)


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Publish the events of the enclosed block together: one storage transaction after commit
    instead of one per event (a webhook's three). Nothing is sent if the block raises, and an
    event published in a savepoint that rolls back is dropped, as outside a batch."""
    if _batch.get() is not None:  # already batching: join the outer batch
        yield
        return
    kept: list[tuple[str, dict[str, Any], Any | None]] = []
    token = _batch.set(kept)
    try:
        yield
    finally:
        _batch.reset(token)
    # Registered after every event's own callback, so it runs once they have all run (or been
    # discarded with their rolled-back savepoint).
    transaction.on_commit(lambda: _send(kept) if kept else None, robust=True)


def _publish_after_commit(event_type: str, body: dict[str, Any], account_id: Any | None) -> None:
    """Send once the surrounding transaction commits (at once outside one); never on rollback.

    In a batch, the event joins it through its own `on_commit`, which Django discards when the
    savepoint it was registered in rolls back."""
    item = (event_type, body, account_id)
    kept = _batch.get()
    if kept is not None:
        transaction.on_commit(lambda: kept.append(item), robust=True)
        return
    transaction.on_commit(lambda: _send([item]), robust=True)


def publish_account_updated(account, changes: dict[str, Any]) -> None:
    if not changes:
        return
    _publish_after_commit(ACCOUNT_UPDATED, account_updated_payload(account, changes), account.pk)


def publish_task_updated(task, changes: dict[str, Any]) -> None:
    if not changes:
        return
    _publish_after_commit(TASK_UPDATED, task_updated_payload(task, changes), task.account_id)


def publish_log_created(log) -> None:
    _publish_after_commit(LOG_CREATED, log_created_payload(log), log.account_id)


def publish_alert(alert) -> None:
    _publish_after_commit(ALERT, alert_payload(alert), alert.account_id)
