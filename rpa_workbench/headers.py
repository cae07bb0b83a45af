"""The Content-Security-Policy of every page we serve (docs/security.md "Headers").

One policy for the admin, the dashboard, Swagger UI (`/docs`) and ReDoc: scripts only from our
own origin, or inline with this response's nonce (`request.csp_nonce`: the dashboard's inlined
script carries it); styles from our origin or inline (the dashboard's bars, Swagger UI and ReDoc
set style attributes); images and fonts from our origin or `data:`; `fetch`/EventSource to our
own origin (the dashboard's live updates); ReDoc's blob workers; no plugins, no framing, no
`<base>` or form posts elsewhere. `/redoc` also lets in what ReDoc itself loads from outside
(its Google Fonts and Redocly's logo): styles, fonts and an image, never a script. A response that already has a policy keeps it (the resource
proxy's `sandbox`). A small middleware of ours rather than django-csp: one fixed policy, and
both sync and async views (the event stream) pass through without an adapter thread.
HSTS is Django's SecurityMiddleware (SECURE_HSTS_SECONDS), sent on requests that arrived over TLS.
"""

from __future__ import annotations

import secrets

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

HEADER = "Content-Security-Policy"
# Sources added per page: what a third-party page of ours loads by itself.
PAGE_SOURCES = {
    "/redoc": {
        "style-src": "https://fonts.googleapis.com",
        "font-src": "https://fonts.gstatic.com",
        "img-src": "https://cdn.redoc.ly",
    },
}


def policy(nonce: str, path: str = "") -> str:
    extra = PAGE_SOURCES.get(path, {})

    def sources(directive: str, base: str) -> str:
        return f"{directive} {base}" + (f" {extra[directive]}" if directive in extra else "")

    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            sources("style-src", "'self' 'unsafe-inline'"),
            sources("img-src", "'self' data:"),
            sources("font-src", "'self' data:"),
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _with_policy(request, response):
    if HEADER not in response:
        response[HEADER] = policy(request.csp_nonce, request.path)
    return response


@sync_and_async_middleware
def content_security_policy(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            request.csp_nonce = secrets.token_urlsafe(18)
            return _with_policy(request, await get_response(request))

    else:

        def middleware(request):
            request.csp_nonce = secrets.token_urlsafe(18)
            return _with_policy(request, get_response(request))

    return middleware
