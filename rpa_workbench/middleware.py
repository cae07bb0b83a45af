"""The project's middleware stack, every class run synchronously (`async_capable = False`).

Under Daphne, Django runs each async-capable `MiddlewareMixin` in async mode and hands each of
its `process_request`/`process_response` calls to a worker thread and back: about sixteen thread
switches per request for this stack, most of the cost of a small request. Declared sync-only,
the whole stack and the (synchronous) views run in one worker thread per request, entered once.
The async SSE view is unaffected: it streams from the event loop as before.
"""

from __future__ import annotations

import corsheaders.middleware
import whitenoise.middleware
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security


def _sync_only(cls: type) -> type:
    return type(cls.__name__, (cls,), {"async_capable": False, "sync_capable": True, "__module__": __name__})


CorsMiddleware = _sync_only(corsheaders.middleware.CorsMiddleware)
SecurityMiddleware = _sync_only(security.SecurityMiddleware)
WhiteNoiseMiddleware = _sync_only(whitenoise.middleware.WhiteNoiseMiddleware)
SessionMiddleware = _sync_only(sessions.SessionMiddleware)
CommonMiddleware = _sync_only(common.CommonMiddleware)
CsrfViewMiddleware = _sync_only(csrf.CsrfViewMiddleware)
AuthenticationMiddleware = _sync_only(auth.AuthenticationMiddleware)
MessageMiddleware = _sync_only(messages.MessageMiddleware)
XFrameOptionsMiddleware = _sync_only(clickjacking.XFrameOptionsMiddleware)
