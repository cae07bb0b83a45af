"""The floor the benchmarks are measured against: a bare ASGI app on Daphne (not the product).

No Django, no database, no validation: it answers the few requests `bench/ingest.py` and
`bench/sse_fanout.py` make, in the shapes they check, with as little work as Python allows:

- `GET /health` → 200;
- `POST /api/v1/webhook/execution-complete` → `{"success": true, "log_id": "<n>", "duplicate": false}`,
  then every open stream gets the four events a real webhook publishes (job, task, account,
  log; padded to their real sizes, 170–370 bytes of data each), in one write;
- `GET /api/v1/sse/events` → a `text/event-stream` (its position first, as the real one);
- `GET /api/v1/sse/status` → `{"status": "running", "connected_clients": N}`.

Whatever a benchmark measures against this app is what Daphne, Twisted and the load generator
cost on the machine: no version of the product can do better. Run with `--floor`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

streams: set[asyncio.Queue] = set()
executions = 0


async def read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def answer(send, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# The data sizes of a real webhook's events (bench/README.md, 2026-12-02).
EVENT_SIZES = (("job_updated", 365), ("task_updated", 204), ("account_updated", 180), ("log_created", 166))


def webhook_events(log_id: str, app_name: str) -> bytes:
    blocks = []
    for event_type, size in EVENT_SIZES:
        data = {"log_id": log_id, "app_name": app_name, "status": "completed", "pad": ""}
        data["pad"] = "x" * max(0, size - len(json.dumps({"type": event_type, "data": data})))
        payload = json.dumps({"type": event_type, "data": data})
        blocks.append(f"event: {event_type}\nid: rpa:{log_id}\ndata: {payload}\n\n")
    return "".join(blocks).encode()


async def stream(send) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    streams.add(queue)
    try:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b": stream open\n\nid: rpa:0\n\n", "more_body": True})
        while True:
            await send({"type": "http.response.body", "body": await queue.get(), "more_body": True})
    finally:
        streams.discard(queue)


async def application(scope, receive, send) -> None:
    global executions
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/api/v1/sse/events":
        await stream(send)
    elif path == "/api/v1/webhook/execution-complete":
        execution = json.loads(await read_body(receive))
        executions += 1
        log_id = str(executions)
        await answer(send, {"success": True, "log_id": log_id, "duplicate": False})
        chunk = webhook_events(log_id, execution.get("app_name", ""))
        for queue in streams:  # after the answer, as the product does
            queue.put_nowait(chunk)
    elif path == "/api/v1/sse/status":
        await answer(send, {"status": "running", "connected_clients": len(streams)})
    else:
        await read_body(receive)
        await answer(send, {"status": "healthy"})
