"""Under Daphne a request runs its middleware stack and a synchronous view in one worker-thread
call (`rpa_workbench/handler.py`), without returning to the event loop in between."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from asgiref import sync
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from rpa_workbench.handler import ASGIHandler, shutdown_request_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def request_threads_closed_after_each_test():
    """The pool threads keep their database connections: closed before the test database goes."""
    yield
    shutdown_request_threads()


def http_scope(path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


class Crossings:
    """Counts the hand-overs between the event loop and worker threads while a request runs."""

    def __init__(self, monkeypatch) -> None:
        self.to_thread = 0
        self.to_loop = 0
        to_thread, to_loop = sync.SyncToAsync.__call__, sync.AsyncToSync.__call__

        def counting_to_thread(this, *args, **kwargs):
            self.to_thread += 1
            return to_thread(this, *args, **kwargs)

        def counting_to_loop(this, *args, **kwargs):
            self.to_loop += 1
            return to_loop(this, *args, **kwargs)

        monkeypatch.setattr(sync.SyncToAsync, "__call__", counting_to_thread)
        monkeypatch.setattr(sync.AsyncToSync, "__call__", counting_to_loop)


def call(handler: ASGIHandler, scope: dict, on_start=None) -> tuple[dict, dict, bytes]:
    """One request through `handler`: the response start message, its headers and its body."""

    async def run():
        communicator = ApplicationCommunicator(handler, scope)
        if on_start:
            on_start()
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(10)
        chunks = []
        while True:
            message = await communicator.receive_output(10)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await communicator.wait(10)
        return start, b"".join(chunks)

    start, content = async_to_sync(run)()
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start, headers, content


def test_a_request_through_the_handler_keeps_every_middlewares_effect():
    _, headers, _ = call(ASGIHandler(), http_scope("/health"))
    assert "origin" in headers["vary"].lower()  # CORS (its headers are tested on the live server)
    assert headers["x-frame-options"] == "DENY"  # clickjacking
    assert headers["x-content-type-options"] == "nosniff"  # security


def test_errors_keep_the_api_error_shape():
    start, _, content = call(ASGIHandler(), http_scope("/api/v1/no-such-thing"))
    assert start["status"] == 404
    assert json.loads(content)["code"] == "NOT_FOUND"


def test_an_async_view_is_still_served():
    """The SSE view is a coroutine: the synchronous stack calls it on the event loop."""
    start, _, content = call(ASGIHandler(), http_scope("/api/v1/sse/events"))
    assert start["status"] == 401
    assert json.loads(content)["code"] == "NOT_AUTHENTICATED"


def test_requests_run_on_long_lived_threads_that_keep_their_database_connection():
    """A thread and a connection per request was 60 % of the server's busy time on /health
    (bench/README.md): ten requests one after another open one connection, on a pool thread."""
    from django.db.backends.signals import connection_created

    opened: list[str] = []

    def record(sender, connection, **kwargs):
        opened.append(threading.current_thread().name)

    connection_created.connect(record)
    try:
        handler = ASGIHandler()
        for _ in range(10):
            start, _, content = call(handler, http_scope("/health"))
            assert start["status"] == 200
    finally:
        connection_created.disconnect(record)
    assert 1 <= len(opened) <= 2  # the request's thread, and perhaps the one that closed a response
    assert all(name.startswith("rpa-request") for name in opened)


def test_at_most_rpa_request_threads_requests_are_worked_on_at_once(settings):
    """A bounded pool: with 3 threads, nine concurrent calls run three at a time (each group
    meets at a barrier of three), never more, on three threads."""
    from rpa_workbench import handler as handler_module

    settings.RPA_REQUEST_THREADS = 3
    shutdown_request_threads()  # the next call makes the pool with the new size
    lock = threading.Lock()
    names: set[str] = set()
    active = [0, 0]  # now, most ever
    barrier = threading.Barrier(3)

    def busy():
        with lock:
            names.add(threading.current_thread().name)
            active[0] += 1
            active[1] = max(active)
        barrier.wait(10)
        with lock:
            active[0] -= 1

    async def run():
        await asyncio.gather(*[handler_module.in_request_thread(busy)() for _ in range(9)])

    async_to_sync(run)()
    assert active[1] == 3
    assert len(names) == 3
