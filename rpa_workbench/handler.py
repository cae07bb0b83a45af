"""Django's ASGI handler, with the middleware stack and the view run in one worker-thread call.

Django's ASGI handler runs an async middleware chain: each of Django's middleware hands its
`process_request`/`process_response` to a worker thread and back, and the view is one more trip:
for this project's stack, sixteen hand-overs between the event loop and a thread per request.
Here the whole synchronous chain (Django's WSGI code path, `BaseHandler.get_response`) runs in
one call on the request's thread; with Django's request-started signal and the closing of the
response, three hand-overs in all. Async views (the SSE stream) still work:
Django's synchronous path calls them with `async_to_sync`, which runs them on the server's event
loop, and their streamed bodies are sent from the loop as before.
"""

from __future__ import annotations

import gc
from importlib import import_module

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers import asgi, base

# Young collections every 50,000 net allocations (not 700); a full one is considered after 10
# middle ones (ten million allocations), and runs once the old generation has grown by a quarter.
GC_THRESHOLDS = (50_000, 20, 10)


class ASGIHandler(asgi.ASGIHandler):
    def __init__(self) -> None:
        # Not Django's ASGIHandler.__init__: it would build the async middleware chain first.
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


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
