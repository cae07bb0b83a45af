"""The event outbox: every event stored once, in the transaction of its change (`rpa_event`).

- `append` inserts one row in the caller's transaction (a rolled-back change, or savepoint,
  takes its events with it; a committed change has its events, even if the process dies before
  delivering them). The row id is the event's position in every stream.
- Ids commit in order: on SQLite one writer at a time; on PostgreSQL the insert first takes a
  transaction-level advisory lock (in the same statement), held until commit, so a reader that
  sees id N also sees every committed id below N. Streams and the hub rely on that to resume
  with `id > last` and never skip an event that committed late.
- `read_after` is the replay read of both streams (all events, or one account's); `trim` keeps
  the table bounded (`RPA_SSE_RETENTION_HOURS`, `RPA_SSE_RETENTION_EVENTS`), called after commit.
- `OutboxStorage` is the same store behind django-eventstream's storage interface, so the
  library's public `send_event()` stores and delivers through this path too.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_eventstream.event import Event
from django_eventstream.storage import EventDoesNotExist, StorageBase

from rpa_workbench.models import EventTrimMark, StoredEvent

ALL_CHANNEL = "rpa"
ACCOUNT_CHANNEL_PREFIX = "account-"
# Any constant: the advisory lock that orders event ids by commit on PostgreSQL.
ORDER_LOCK_KEY = 0x52504145  # "RPAE"


@dataclass(frozen=True)
class StoredRow:
    """One stored event as the fan-out needs it: position, type, account, encoded payload."""

    id: int
    type: str
    account_id: str | None
    data: str

    def channels(self) -> list[str]:
        """The streams it belongs to: all events, and its account's."""
        if self.account_id is None:
            return [ALL_CHANNEL]
        return [ALL_CHANNEL, account_channel(self.account_id)]


def account_channel(account_id: Any) -> str:
    return f"{ACCOUNT_CHANNEL_PREFIX}{account_id}"


def channel_account(channel: str) -> str | None:
    """The account id of an account channel; None for the all-events channel."""
    if channel.startswith(ACCOUNT_CHANNEL_PREFIX):
        return str(uuid.UUID(channel[len(ACCOUNT_CHANNEL_PREFIX) :]))
    return None


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(StoredEvent._meta.db_table)
    columns = ", ".join(quote(name) for name in ("type", "account_id", "data", "created_at"))
    if connection.vendor == "postgresql":
        return (
            f"INSERT INTO {table} ({columns}) SELECT %s, %s, %s, %s "
            f"FROM pg_advisory_xact_lock({ORDER_LOCK_KEY}) RETURNING {quote('id')}"
        )
    return f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s) RETURNING {quote('id')}"


def append(event_type: str, account_id: Any | None, encoded: str) -> StoredRow:
    """Store one event in the current transaction (one statement); its row for the fan-out."""
    account = str(account_id) if account_id is not None else None
    field = StoredEvent._meta.get_field("account_id")
    params = [
        event_type,
        field.get_db_prep_value(account, connection),
        encoded,
        connection.ops.adapt_datetimefield_value(timezone.now()),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), params)
        (event_id,) = cursor.fetchone()
    return StoredRow(int(event_id), event_type, account, encoded)


def read_after(last_id: int, account_id: str | None = None, limit: int = 100) -> list[StoredRow]:
    """The stored events after `last_id` (of one account, or all), oldest first."""
    qs = StoredEvent.objects.filter(id__gt=last_id)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return [
        StoredRow(event_id, event_type, str(account) if account is not None else None, data)
        for event_id, event_type, account, data in qs.order_by("id").values_list(
            "id", "type", "account_id", "data"
        )[:limit]
    ]


def current_id() -> int:
    """The newest event's id (0 when none): where a stream with no Last-Event-ID starts."""
    return StoredEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def is_trimmed(last_id: int) -> bool:
    """Whether events after `last_id` were trimmed (the client must reload), or the id is one
    this database never gave (a client of another database, or from the future)."""
    mark = EventTrimMark.objects.filter(pk=1).values_list("trimmed_through", flat=True).first() or 0
    return last_id < mark or last_id > current_id()


_trim_lock = threading.Lock()
_last_trim = 0.0
TRIM_INTERVAL = 60.0


def trim(force: bool = False) -> None:
    """Drop events older than the retention, and all but the last RPA_SSE_RETENTION_EVENTS; at
    most once a minute per process, outside any transaction. The newest event always stays
    (it is the position of a stream with no Last-Event-ID)."""
    global _last_trim
    with _trim_lock:
        now = time.monotonic()
        if not force and now - _last_trim < TRIM_INTERVAL:
            return
        _last_trim = now
    newest = current_id()
    hours = float(getattr(settings, "RPA_SSE_RETENTION_HOURS", 24))
    keep = int(getattr(settings, "RPA_SSE_RETENTION_EVENTS", 10000))
    cutoff = timezone.now() - datetime.timedelta(hours=hours)
    by_age = StoredEvent.objects.filter(id__lt=newest, created_at__lt=cutoff).order_by("-id")
    through = max(by_age.values_list("id", flat=True).first() or 0, newest - keep)
    if through <= 0:
        return
    # The mark first: a reader that finds the events gone also finds the mark.
    EventTrimMark.objects.get_or_create(pk=1)
    EventTrimMark.objects.filter(pk=1, trimmed_through__lt=through).update(trimmed_through=through)
    StoredEvent.objects.filter(id__lte=through).delete()


class OutboxStorage(StorageBase):
    """django-eventstream's storage interface over the outbox (EVENTSTREAM_STORAGE_CLASS).

    The project publishes through `rpa_workbench.events`; this makes the library's public
    `send_event(channel, …)` work the same way: stored once (the channel names the account),
    delivered to every subscriber after commit, replayable."""

    def append_event(self, channel: str, event_type: str, data: str) -> Event:
        from rpa_workbench import events

        row = append(event_type, channel_account(channel), data)
        events.deliver_after_commit(row)
        return Event(channel, event_type, data, id=row.id)

    def get_events(self, channel: str, last_id: int, limit: int = 100) -> list[Event]:
        if is_trimmed(last_id):
            raise EventDoesNotExist("events after this id were trimmed", current_id())
        rows = read_after(last_id, channel_account(channel), limit)
        return [Event(channel, row.type, row.data, id=row.id) for row in rows]

    def get_current_id(self, channel: str) -> int:
        return current_id()
