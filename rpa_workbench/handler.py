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
from django.core.handlers import asgi
from django.http import FileResponse

# Young collections every 50,000 net allocations (not 700), a full one after 100 middle ones.
GC_THRESHOLDS = (50_000, 20, 100)


class ASGIHandler(asgi.ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)

    async def run_get_response(self, request):
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):  # the ASGI server chunks files itself
            response.block_size = self.chunk_size
        return response


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
    are frozen out of the collector, and collections are triggered less often; cyclic garbage
    is still collected, by the young and middle generations."""
    import_module(settings.ROOT_URLCONF)  # every view imported now, to be frozen with the rest
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
