"""Reading a live server's event stream in a test: every `data:` line into a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator

import requests


def listen(base_url: str, token: str, events: queue.Queue) -> None:
    """Put ("open", status) and then ("data", payload) for each event; run it in a thread."""
    try:
        with requests.get(f"{base_url}/api/v1/sse/events", params={"token": token}, stream=True, timeout=60) as resp:
            events.put(("open", resp.status_code))
            for line in resp.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    events.put(("data", json.loads(line[5:])))
    except requests.RequestException:
        pass  # the server stopped at the end of the test


def open_stream(base_url: str, token: str, timeout: float = 10) -> queue.Queue:
    """Start listening in a daemon thread once the stream answered 200; the queue of its events."""
    events: queue.Queue = queue.Queue()
    threading.Thread(target=listen, args=(base_url, token, events), daemon=True).start()
    opened = events.get(timeout=timeout)
    if opened != ("open", 200):
        raise AssertionError(f"the event stream did not open: {opened}")
    return events


def payloads(events: queue.Queue, timeout: float = 30) -> Iterator[dict]:
    """Each event's payload as it arrives, until `timeout` seconds have passed (stop early by
    breaking out of the loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kind, payload = events.get(timeout=1)
        except queue.Empty:
            continue
        if kind == "data":
            yield payload
