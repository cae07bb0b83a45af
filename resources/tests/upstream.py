"""A real local HTTP server playing the cloud bucket (OSS/S3) behind the proxy.

Routes are plain functions of the request handler, so each test says exactly how the
"bucket" behaves: headers, chunked bodies, slow answers, redirects.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rpa_workbench.testing.servers import serve_in_background

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Upstream:
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[dict] = field(default_factory=list)
    # Set by a streaming route once its first chunk is out; cleared to let it finish.
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def send_body(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200, **headers: str) -> None:
    handler.send_response(status)
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    headers.setdefault("Content-Type", "application/octet-stream")
    headers.setdefault("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def send_chunked(handler: BaseHTTPRequestHandler, chunks, content_type: str = "text/plain", pause: float = 0) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for chunk in chunks:
        handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        handler.wfile.flush()
        if pause:
            time.sleep(pause)
    handler.wfile.write(b"0\r\n\r\n")


def redirect(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def start_upstream(*, certfile: str | None = None, keyfile: str | None = None) -> tuple[Upstream, ThreadingHTTPServer]:
    """Plain HTTP, or HTTPS when given a certificate."""
    upstream = Upstream()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 — http.server's naming
            path = self.path.split("?", 1)[0]
            upstream.seen.append({"path": self.path, "headers": dict(self.headers.items())})
            route = upstream.routes.get(path)
            try:
                if route is None:
                    send_body(self, b"no such object", status=404, Content_Type="text/plain")
                else:
                    route(self)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        def log_message(self, format, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    upstream.port = server.server_address[1]
    serve_in_background(server)
    return upstream, server
