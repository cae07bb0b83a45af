"""Local stand-ins for what is outside our machine (relay, Yingdao, alert channels, upstreams),
served from a background thread.

`serve_forever()` checks for `shutdown()` once per poll, half a second by default: every test
that stopped a fake server waited that long at teardown. These poll every 10 ms, so a fixture
stops at once; the cost is a few idle wake-ups while a test runs.
"""

from __future__ import annotations

import socketserver
import threading

POLL_SECONDS = 0.01


def serve_in_background(server: socketserver.BaseServer) -> threading.Thread:
    """Serve `server` from a daemon thread until `stop(server)`."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True, name="fake-server"
    )
    thread.start()
    return thread


def stop(server: socketserver.BaseServer) -> None:
    """Stop serving (returns within one poll) and close the listening socket."""
    server.shutdown()
    server.server_close()
