"""A real local HTTP server standing in for the relay (and anything else outside our machine).

Tests configure how it answers (status, delay) and read what it received, instead of patching
`requests`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from rpa_workbench.testing.servers import serve_in_background


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeRelay:
    """`url` is the relay URL to configure; `requests` lists what arrived, in order."""

    url: str = ""
    status: int = 200
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # extra answer headers (e.g. Location)
    requests: list[ReceivedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    def record(self, request: ReceivedRequest) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def wait_for_requests(self, count: int, timeout: float) -> int:
        """Wait until `count` requests arrived (a sender in another thread), at most `timeout`
        seconds; returns how many arrived."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return len(self.requests)

    @property
    def queries(self) -> list[dict[str, str]]:
        with self._lock:
            return [r.query for r in self.requests]


def start_fake_relay() -> tuple[FakeRelay, ThreadingHTTPServer]:
    relay = FakeRelay()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            relay.record(ReceivedRequest(self.command, split.path, query, dict(self.headers.items()), body))
            if relay.delay:
                time.sleep(relay.delay)
            try:
                self.send_response(relay.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(relay.body)))
                for name, value in relay.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(relay.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format, *args):  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    relay.url = f"http://127.0.0.1:{server.server_address[1]}/yingdao"
    serve_in_background(server)
    return relay, server
