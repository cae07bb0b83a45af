"""Django's ASGI handler, with each request's synchronous work done in one call on a long-lived
thread of a bounded pool.

Django's ASGI handler (5.2) runs an async middleware chain: each of Django's middleware hands its
`process_request`/`process_response` to a worker thread and back, and the view is one more trip.
Every request also gets a thread of its own (asgiref's ThreadSensitiveContext starts one per
request), and with it a database connection of its own, opened and closed per request: on
SQLite that open (connect, PRAGMAs, registering Django's SQL functions) was 60 % of the server's
busy time for `GET /health` (py-spy, bench/README.md).

Here the request-started signal, the whole synchronous middleware chain and the view (Django's
WSGI code path, `BaseHandler.get_response`) run in one call on a thread of `REQUEST_THREADS`, a
pool of `RPA_REQUEST_THREADS` threads that live as long as the process, so each keeps its
database connection from one request to the next (`RPA_DB_CONN_MAX_AGE`, checked before every
request by Django's own `close_old_connections`). The response is sent from the event loop, and
closed (the request-finished signal) on a pool thread after it is out, as Django does.

Async views (the SSE stream) still work: Django's synchronous path calls them with
`async_to_sync`, which runs them on the server's event loop, and their streamed bodies are sent
from the loop as before. Code that asks for a thread-sensitive `sync_to_async` on the loop
(a streamed body that reads the database, e.g. the CSV export) gets the request's own thread,
started only then, as in Django.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi, base
from django.db import close_old_connections, connections
from django.http import FileResponse
from django.urls import set_script_prefix

# Young collections every 50,000 net allocations (not 700); a full one is considered after 10
# middle ones (ten million allocations), and runs once the old generation has grown by a quarter.
GC_THRESHOLDS = (50_000, 20, 10)

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def request_threads() -> ThreadPoolExecutor:
    """The process's request pool, made on first use (after the settings are read)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None:
            _pool_size = settings.RPA_REQUEST_THREADS
            _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="rpa-request")
        return _pool


def shutdown_request_threads() -> None:
    """Close every pool thread's database connections, then stop the pool (tests; a server
    process simply exits). Each thread is handed one closing call, held at a barrier until all
    have theirs, so none is skipped."""
    global _pool
    with _pool_lock:
        pool, workers, _pool = _pool, _pool_size, None
    if pool is None:
        return
    barrier = threading.Barrier(workers)

    def close_here() -> None:
        barrier.wait(timeout=10)
        connections.close_all()

    for future in [pool.submit(close_here) for _ in range(workers)]:
        future.result()
    pool.shutdown(wait=True)


def in_request_thread(func):
    return sync_to_async(func, thread_sensitive=False, executor=request_threads())


class ASGIHandler(asgi.ASGIHandler):
    def __init__(self) -> None:
        # Not Django's ASGIHandler.__init__: it would build the async middleware chain first.
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    def respond(self, scope, body_file):
        """On a pool thread: request started, the request built, the middleware and the view;
        then the database connection is released or kept (Django's end-of-request check, done
        here, on the thread that used it)."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                return error_response
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
            return response
        finally:
            close_old_connections()

    async def handle(self, scope, receive, send):
        """Django's `ASGIHandler.handle` (5.2), with `respond` in one pool call where Django
        awaits the request-started signal, builds the request and runs the async chain."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(asgi.get_script_prefix(scope))

        async def process_request():
            response = await in_request_thread(self.respond)(scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was sent
            return response

        # As Django: watch for a disconnect while the response is made and sent.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await in_request_thread(signals.request_finished.send)(sender=self.__class__)
        else:
            await in_request_thread(response.close)()
        body_file.close()


def get_asgi_application() -> ASGIHandler:
    django.setup(set_prefix=False)
    application = ASGIHandler()
    tune_garbage_collector()
    return application


def tune_garbage_collector() -> None:
    """Keep full garbage collections out of the server's way.

    A full collection walks every tracked object. With a thousand open event streams (each with
    its request, user, coroutines and idle thread) that took 150–250 ms, every couple of
    seconds under load, stalling every stream of the process at once: it was the whole tail of
    the SSE fan-out benchmark. The objects loaded at start-up (Django, the apps, the URLconf)
    are frozen out of the collector, and collections are triggered less often. Short-lived
    cycles still go with the young collections; long-lived ones (a closed stream's request and
    tasks) wait for the next full collection, which still comes, only less often: none ran
    during 200 webhooks to 1000 streams, where the defaults ran one every couple of seconds."""
    import_module(settings.ROOT_URLCONF)  # every view imported now, to be frozen with the rest
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
