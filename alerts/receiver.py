"""A tiny local receiver for webhook alerts (the demo's, `manage.py alert_receiver`).

It verifies `X-RPA-Signature` the way any receiver should: HMAC-SHA256 over
"<X-RPA-Timestamp>.<raw body>" with the shared secret, compared in constant time, and refuses
timestamps older than five minutes (replays)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 300


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None) -> bool:
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return age <= MAX_AGE_SECONDS and hmac.compare_digest(expected, signature or "")


def make_server(port: int, secret: str, report: Callable[[str], None], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 — http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = not secret or verify(
                secret, self.headers.get("X-RPA-Timestamp", ""), body, self.headers.get("X-RPA-Signature", "")
            )
            try:
                message = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace")
            report(
                f"{self.headers.get('X-RPA-Event', '?')} delivery {self.headers.get('X-RPA-Delivery', '?')} "
                f"signature {'ok' if ok else 'INVALID'}\n{message}\n"
            )
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if ok else b'{"ok": false}')

        def log_message(self, format, *args):
            return

    return ThreadingHTTPServer((host, port), Handler)
