"""Live events (API.md §6): the one module that names channels, builds payloads and publishes.

Every state change calls one `publish_*` function here, inside the change's transaction:
1. the payload `{"type", "data"}` is JSON-encoded once and stored once in the outbox
   (`rpa_workbench.event_store`: one row, the account as a column), in the same transaction —
   a rolled-back change (or savepoint) takes its events with it, a committed one keeps them;
2. after the commit, their positions are stamped (on PostgreSQL, by the sequencer in its own
   short transaction: `event_store.sequence`; docs/jobs.md, "Event ordering") and the stamped
   rows are handed over live (`hand_over`): to this process's `hub` in the single-process
   set-up, or — with `RPA_PUSHPIN_PUBLISH_URL`, several processes — to Pushpin, which holds
   the streams (`rpa_workbench.pushpin`). Delivery failing is logged, never fails the request:
   the events are stored, and streams replay them (`Last-Event-ID`, or the hub's gap read).

The events of one workflow (a webhook's account, task and log events) are published inside
`with events.batch():` so they are handed over together, one write per stream.

Adding an event type: a payload builder and a three-line `publish_<type>` calling `publish`.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import threading
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone

from rpa_workbench import embedded, event_store, pushpin
from rpa_workbench.event_hub import Hub, connected_clients, hub
from rpa_workbench.event_store import ACCOUNT_CHANNEL_PREFIX, ALL_CHANNEL, StoredRow, account_channel
from rpa_workbench.finite_json import finite_dumps
from rpa_workbench.timefmt import api_values

logger = logging.getLogger(__name__)

__all__ = [
    "ACCOUNT_CHANNEL_PREFIX",
    "ALL_CHANNEL",
    "Hub",
    "account_channel",
    "connected_clients",
    "hub",
]

LOG_CREATED = "log_created"
ACCOUNT_UPDATED = "account_updated"
TASK_UPDATED = "task_updated"
JOB_UPDATED = "job_updated"
HEARTBEAT = "heartbeat"
ALERT = "alert"
STREAM_RESET = "stream-reset"


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


def job_updated_payload(job, changes: dict[str, Any]) -> dict[str, Any]:
    return payload(
        JOB_UPDATED,
        {
            "job_id": str(job.pk),
            "task_id": str(job.task_id) if job.task_id else None,
            "account_id": str(job.account_id) if job.account_id else None,
            "shadow_bot_account": job.shadow_bot_account,
            "app_name": job.app_name,
            "status": job.status,
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
    """The one encoding of event payloads (stored, fanned out, streamed): no NaN/Infinity."""
    return finite_dumps(api_values(data))


# --- sending -------------------------------------------------------------------------------


def hand_over(rows: list[StoredRow]) -> None:
    """After the commit of `rows` (a transaction's events): stamp their positions (PostgreSQL,
    see `event_store.sequence`; the rows of other transactions waiting for one come along), then
    give the stamped rows to every subscriber: through Pushpin when it holds the streams, else to
    this process's hub.
    Then, at most once a minute, trim the outbox."""
    if not rows:
        return
    try:
        stamped, elsewhere = event_store.sequence(rows, locate_own=not pushpin.enabled())
    except Exception:
        # Stored and committed: the sequencer loop (`run_sequencer`) stamps and delivers them.
        logger.exception("could not stamp the positions of %s", ", ".join(row.type for row in rows))
        return
    fan_out(stamped, elsewhere)
    try:
        event_store.trim()
    except Exception:
        logger.exception("could not trim the event outbox")


def fan_out(stamped: list[StoredRow], elsewhere: list[StoredRow] | None = None) -> None:
    """Deliver `stamped` (the rows this process stamped, anybody's) to every subscriber.
    `elsewhere` are this process's own rows another process stamped first: through Pushpin that
    process delivered them to everyone, so only this process's hub still needs them."""
    elsewhere = elsewhere or []
    if not stamped and not elsewhere:
        return
    try:
        if pushpin.enabled():
            if stamped:
                pushpin.publish(stamped)
            return
        hub.receive(sorted([*stamped, *elsewhere], key=lambda row: row.position))
    except Exception:
        logger.exception("could not hand over %s", ", ".join(row.type for row in [*stamped, *elsewhere]))


SEQUENCER_INTERVAL = 1.0


def sequence_pass() -> list[StoredRow]:
    """Stamp every committed event still without a position and deliver it; what it stamped."""
    stamped, _ = event_store.sequence()
    fan_out(stamped)
    return stamped


def run_sequencer(*, stop: threading.Event, interval: float = SEQUENCER_INTERVAL) -> None:
    """The safety net of the after-commit stamping (an embedded loop, PostgreSQL only): events
    committed by a process that died before stamping them, or whose stamping failed, are stamped
    and delivered within `interval`. Usually it finds nothing (one index probe)."""
    if not event_store.stamps_after_commit():
        return  # SQLite: the insert gives the position
    embedded.repeat(sequence_pass, name="event sequencer", interval=interval, stop=stop)


def wake_streams_after_request(**kwargs: Any) -> None:
    """`request_finished` receiver. A request's events wait `RPA_SSE_BATCH_SECONDS` to be joined
    by the rest of their burst; once the request has sent its response they all are, so the
    streams wake now. Not sooner: fanning out on the event loop while the request's thread is
    still working makes both wait for each other (the webhook's response, and so every
    delivery, came later)."""
    hub.wake_now()


_batch: contextvars.ContextVar[list[StoredRow] | None] = contextvars.ContextVar("rpa_event_batch", default=None)


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Hand the events published in the enclosed block over together, after commit (a webhook's
    three reach each stream in one write). They are stored as they are published, so an event
    published in a savepoint that rolls back is neither stored nor sent."""
    if _batch.get() is not None:  # already batching: join the outer batch
        yield
        return
    rows: list[StoredRow] = []
    token = _batch.set(rows)
    try:
        yield
    finally:
        _batch.reset(token)
    # Registered after the rows' own callbacks, so it runs after them, with all of them.
    transaction.on_commit(lambda: hand_over(rows), robust=True)


def deliver_after_commit(row: StoredRow) -> None:
    """Hand `row` over once its transaction commits (at once outside one); never on rollback —
    Django drops the callbacks of a rolled-back transaction or savepoint."""
    rows = _batch.get()
    if rows is not None:
        transaction.on_commit(lambda: rows.append(row), robust=True)
    else:
        transaction.on_commit(lambda: hand_over([row]), robust=True)


def publish(event_type: str, body: dict[str, Any], account_id: Any | None) -> None:
    """Store one event in the current transaction and hand it over after commit.

    Storing is part of the change: if it fails, the change fails with it (an outbox). Encoding
    comes first, so a payload that cannot be encoded is a bug found before anything is written."""
    row = event_store.append(event_type, account_id, encode(body))
    deliver_after_commit(row)


def publish_account_updated(account, changes: dict[str, Any]) -> None:
    if not changes:
        return
    publish(ACCOUNT_UPDATED, account_updated_payload(account, changes), account.pk)


def publish_task_updated(task, changes: dict[str, Any]) -> None:
    if not changes:
        return
    publish(TASK_UPDATED, task_updated_payload(task, changes), task.account_id)


def publish_log_created(log) -> None:
    publish(LOG_CREATED, log_created_payload(log), log.account_id)


def publish_alert(alert) -> None:
    publish(ALERT, alert_payload(alert), alert.account_id)


def publish_job_updated(job, changes: dict[str, Any]) -> None:
    if not changes:
        return
    publish(JOB_UPDATED, job_updated_payload(job, changes), job.account_id)
