"""The event outbox: every event stored once, in the transaction of its change (`rpa_event`).

- `append` inserts one row in the caller's transaction (a rolled-back change, or savepoint,
  takes its events with it; a committed change has its events, even if the process dies before
  delivering them).
- Each event's id in every stream is its **position** (`StoredEvent.position`), given in commit
  order, so that a reader that sees position N also sees every position below N, and streams
  resume with `position > last` without ever skipping an event that committed late
  (docs/jobs.md, "Event ordering"):
  - on SQLite, one writer at a time: the insert takes the next position itself;
  - on PostgreSQL, the insert leaves it empty, and `sequence` stamps the committed events after
    their commit, in its own short transaction (one sequencer at a time, under an advisory lock
    held for that one UPDATE only; never by a request's transaction). Until then an event is
    invisible to readers. A transaction held open delays only its own events.
- `read_after` is the replay read of both streams (all events, or one account's); `trim` keeps
  the table bounded (`RPA_SSE_RETENTION_HOURS`, `RPA_SSE_RETENTION_EVENTS`), called after commit.
"""

from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from rpa_workbench.models import EventTrimMark, StoredEvent

ALL_CHANNEL = "rpa"
ACCOUNT_CHANNEL_PREFIX = "account-"
# Any constant: the advisory lock one sequencer holds while it stamps positions (PostgreSQL).
SEQUENCER_LOCK_KEY = 0x52504145  # "RPAE"
# At most this many events stamped per statement (a backlog takes several).
SEQUENCE_BATCH = 1000


@dataclass(frozen=True)
class StoredRow:
    """One stored event as the fan-out needs it: its position (the event's id in every stream;
    None until stamped), type, account, encoded payload, and its row's primary key."""

    position: int | None
    type: str
    account_id: str | None
    data: str
    pk: int = 0

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


def stamps_after_commit() -> bool:
    """Whether positions are stamped after commit (PostgreSQL), not by the insert (SQLite)."""
    return connection.vendor == "postgresql"


def _table() -> str:
    return connection.ops.quote_name(StoredEvent._meta.db_table)


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    columns = ["type", "account_id", "data", "created_at"]
    values = "%s, %s, %s, %s"
    if not stamps_after_commit():
        # One writer at a time (SQLite): the next position commits after every one below it.
        columns.append("position")
        values += f", (SELECT COALESCE(MAX({quote('position')}), 0) + 1 FROM {_table()})"
    names = ", ".join(quote(name) for name in columns)
    return f"INSERT INTO {_table()} ({names}) VALUES ({values}) RETURNING {quote('id')}, {quote('position')}"


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
        pk, position = cursor.fetchone()
    return StoredRow(position, event_type, account, encoded, pk=int(pk))


_SEQUENCE_SQL = """
WITH todo AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n
    FROM {table} WHERE "position" IS NULL ORDER BY id LIMIT %s
), top AS (
    SELECT GREATEST(
        COALESCE(MAX("position"), 0),
        COALESCE((SELECT trimmed_through FROM {trim} WHERE id = 1), 0)
    ) AS last FROM {table}
)
UPDATE {table} AS event SET "position" = top.last + todo.n
FROM todo, top WHERE event.id = todo.id
RETURNING event.id, event."position", event.type, event.account_id, event.data
"""


def _row(pk: int, position: int, event_type: str, account: Any, data: str) -> StoredRow:
    return StoredRow(int(position), event_type, str(account) if account is not None else None, data, pk=int(pk))


def sequence(own: Iterable[StoredRow] = (), *, locate_own: bool = True) -> tuple[list[StoredRow], list[StoredRow]]:
    """Stamp a position on every committed event that has none, oldest first; call it outside
    any transaction, after the commit of `own` (the rows a transaction just stored).

    Returns (the rows this call stamped, in position order — other processes' included — and the
    rows of `own` another sequencer stamped meanwhile, read back unless `locate_own` is false:
    the fan-out through Pushpin has them from that sequencer). On SQLite both are what
    the inserts gave: `own`, and nothing.

    One sequencer at a time (an advisory lock taken in a statement of its own, so the UPDATE's
    snapshot sees every stamp committed before it): positions commit in order. The lock is held
    for this short transaction only; no request's transaction ever waits for it."""
    own = list(own)
    if not stamps_after_commit():
        return own, []
    table = _table()
    trim_table = connection.ops.quote_name(EventTrimMark._meta.db_table)
    stamped: list[StoredRow] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
        while True:
            cursor.execute(_SEQUENCE_SQL.format(table=table, trim=trim_table), [SEQUENCE_BATCH])
            batch = cursor.fetchall()
            stamped.extend(_row(*values) for values in batch)
            if len(batch) < SEQUENCE_BATCH:
                break
    stamped.sort(key=lambda row: row.position)
    mine = {row.pk for row in stamped}
    missing = [row.pk for row in own if row.pk not in mine] if locate_own else []
    elsewhere: list[StoredRow] = []
    if missing:
        rows = StoredEvent.objects.filter(pk__in=missing, position__isnull=False).order_by("position")
        elsewhere = [_row(*values) for values in rows.values_list("id", "position", "type", "account_id", "data")]
    return stamped, elsewhere


def read_after(last_id: int, account_id: str | None = None, limit: int = 100) -> list[StoredRow]:
    """The stamped events after position `last_id` (of one account, or all), oldest first."""
    qs = StoredEvent.objects.filter(position__gt=last_id)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = qs.order_by("position").values_list("id", "position", "type", "account_id", "data")[:limit]
    return [_row(*values) for values in rows]


def current_id() -> int:
    """The newest event's position (0 when none): where a stream with no Last-Event-ID starts."""
    return StoredEvent.objects.filter(position__isnull=False).order_by("-position").values_list(
        "position", flat=True
    ).first() or 0


def watermark() -> tuple[int, int]:
    """(The newest stamped position, the number of committed events without one), in one
    statement, so one snapshot: the pair moves at every commit that stores an event, stamped
    or not. With the position unchanged, the unstamped events only grow in number; stamping
    raises the position. So a pair names one state of what events describe (the cached reads'
    key, rpa_workbench.list_cache). On SQLite the count is always 0 (the insert stamps)."""
    table = _table()
    position = connection.ops.quote_name("position")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX({position}) FROM {table}),"
            f" (SELECT COUNT(*) FROM {table} WHERE {position} IS NULL)"
        )
        newest, pending = cursor.fetchone()
    return int(newest or 0), int(pending or 0)


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
    by_age = StoredEvent.objects.filter(position__lt=newest, created_at__lt=cutoff).order_by("-position")
    through = max(by_age.values_list("position", flat=True).first() or 0, newest - keep)
    if through <= 0:
        return
    # The mark first: a reader that finds the events gone also finds the mark.
    EventTrimMark.objects.get_or_create(pk=1)
    EventTrimMark.objects.filter(pk=1, trimmed_through__lt=through).update(trimmed_through=through)
    StoredEvent.objects.filter(position__lte=through).delete()
