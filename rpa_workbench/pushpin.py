"""Pushpin (GRIP) in front of several server processes: it holds the event streams.

Off by default (the embedded set-up needs nothing). With `RPA_PUSHPIN_PUBLISH_URL` set (e.g.
`http://127.0.0.1:5561`, Pushpin's publish endpoint), every process:
- answers a stream request coming through Pushpin (`Grip-Sig` header present) with its replay
  (`Last-Event-ID`) and GRIP instructions to hold the connection open as a stream subscribed to
  its channel (`rpa` or `account-<uuid>`), then lets go: no stream stays in the server;
- publishes each committed event to Pushpin, once per channel it belongs to, as the same SSE
  block (same payload, same `<channel>:<id>` id) the in-process stream sends.
Heartbeats: every process publishes the `heartbeat` event each interval to a `heartbeat`
channel every held stream also subscribes to, with the interval's number as its item id, so
Pushpin delivers one per interval. A stream request that merely carries a `Grip-Sig` header
without coming through Pushpin gets its replay and the connection closes: nothing is exposed.
See docs/production.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import requests
from django.conf import settings
from django_eventstream.utils import make_id, sse_encode_event

from rpa_workbench.event_store import StoredRow

logger = logging.getLogger(__name__)

_session_lock = threading.Lock()
_sessions: dict[int, requests.Session] = {}


def publish_url() -> str:
    return str(getattr(settings, "RPA_PUSHPIN_PUBLISH_URL", "") or "").rstrip("/")


def enabled() -> bool:
    return bool(publish_url())


def sse_block(channel: str, row: StoredRow) -> str:
    """The SSE block of `row` on `channel`: what the in-process stream sends too."""
    return sse_encode_event(row.type, row.data, event_id=make_id({channel: row.position}))


def items(rows: list[StoredRow]) -> list[dict[str, Any]]:
    """One GRIP item per channel for rows published together (a request's events): their SSE
    blocks in order, under the last one's id. Pushpin's work is per item and subscriber: one
    item per event made a webhook's four events 20,000 deliveries to 5,000 streams instead of
    5,000 (bench/README.md); the in-process streams write a burst in one go too."""
    blocks: dict[str, list[str]] = {}
    last_ids: dict[str, int] = {}
    for row in rows:
        for channel in row.channels():
            blocks.setdefault(channel, []).append(sse_block(channel, row))
            last_ids[channel] = row.position
    return [
        {"channel": channel, "id": str(last_ids[channel]), "formats": {"http-stream": {"content": "".join(parts)}}}
        for channel, parts in blocks.items()
    ]


def session() -> requests.Session:
    """One keep-alive session per publishing thread."""
    key = threading.get_ident()
    with _session_lock:
        if key not in _sessions:
            _sessions[key] = requests.Session()
        return _sessions[key]


HEARTBEAT_CHANNEL = "heartbeat"


def hold_body(replay: str, last_ids: dict[str, int]) -> str:
    """The first bytes of a held stream: what the in-process stream sends first."""
    return ": stream open\n\n" + (replay or f"id: {make_id(last_ids)}\n\n")


def hold(response, channel: str) -> None:
    """GRIP instructions: keep the connection open as a stream of `channel` and of the
    heartbeats, with Pushpin's keep-alive when nothing else is sent."""
    response["Grip-Hold"] = "stream"
    response["Grip-Channel"] = f"{channel}, {HEARTBEAT_CHANNEL}"
    response["Grip-Keep-Alive"] = ": keep-alive\\n\\n; format=cstring; timeout=55"
    start_heartbeats()


def heartbeat_item(now: float) -> dict[str, Any]:
    """The heartbeat event for every held stream. Its id is the interval's number, the same in
    every process, so Pushpin delivers one per interval however many processes publish it."""
    from rpa_workbench import events

    interval = float(getattr(settings, "RPA_SSE_HEARTBEAT_SECONDS", 30))
    content = sse_encode_event(events.HEARTBEAT, events.encode(events.heartbeat_payload()))
    return {
        "channel": HEARTBEAT_CHANNEL,
        "id": f"hb-{int(now // interval)}",
        "formats": {"http-stream": {"content": content}},
    }


_heartbeats: threading.Thread | None = None


def start_heartbeats() -> None:
    """Publish the heartbeat every RPA_SSE_HEARTBEAT_SECONDS from this process (a daemon
    thread, started with the first held stream)."""
    global _heartbeats
    with _session_lock:
        if _heartbeats is not None:
            return
        _heartbeats = threading.Thread(target=_heartbeat_forever, name="rpa-pushpin-heartbeat", daemon=True)
    _heartbeats.start()


def _heartbeat_forever() -> None:
    interval = float(getattr(settings, "RPA_SSE_HEARTBEAT_SECONDS", 30))
    while True:
        now = time.time()
        time.sleep(interval - now % interval)
        try:
            post_items([heartbeat_item(time.time())])
        except Exception as exc:  # noqa: BLE001 — Pushpin down: try again next interval
            logger.warning("could not publish the heartbeat to Pushpin (%s)", exc)


def post_items(payload_items: list[dict[str, Any]]) -> None:
    response = session().post(
        f"{publish_url()}/publish/",
        data=json.dumps({"items": payload_items}),
        headers={"Content-Type": "application/json"},
        timeout=(1, 2),
    )
    response.raise_for_status()


def publish(rows: list[StoredRow]) -> None:
    """Publish committed rows to Pushpin in one request (short timeouts: a hung Pushpin must not
    hang the request that published; the events are stored and replayable anyway)."""
    post_items(items(rows))
