"""The server entry point: `python -m rpa_workbench.serve -b 127.0.0.1 -p 8888 rpa_workbench.asgi:application`.

Daphne's own command line and options, with two differences (Daphne 4.2):

1. Credentials are redacted from the access log (issue 13 item 7): Daphne writes each request's
   full URL, and the SSE stream's `?token=<JWT>` would be in every line. The access logger
   Daphne's command line makes is handed to the server (its public `action_logger` argument)
   wrapped in `RedactingAccessLog`, which passes the path through `redaction.redact` first.
2. An application that fails after its response started gets its connection closed at once
   (issue 13 item 8: a proxied body passing RPA_PROXY_MAX_BYTES mid-stream raises). Daphne would
   answer the failure with a 500 page, which it cannot send once headers are out: it raises
   instead (its application checker then stops running) and the client waits for a body end
   that never comes. Closing the TCP connection without that end makes every client see an
   incomplete body. This one reads Daphne's private state (`Server.connections`,
   `application_instance`, the protocol's `_response_started`): kept for correctness, pinned in
   rpa_workbench/tests/test_private_overrides.py (docs/architecture.md, "Private overrides").

Plain `daphne` still serves the app, without these two: then use `--access-log /dev/null`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server

logger = logging.getLogger("rpa_workbench.serve")  # also when run as __main__


class RedactingAccessLog:
    """An `action_logger` (Daphne's access log: called with protocol, action and details) that
    redacts credentials from the path before the wrapped logger writes it."""

    def __init__(self, write: Callable[[str, str, dict[str, Any]], None]) -> None:
        self.write = write

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        if isinstance(details.get("path"), str):
            from rpa_workbench.redaction import redact  # after Django's settings are configured

            details = {**details, "path": redact(details["path"])}
        self.write(protocol, action, details)


class WorkbenchServer(Server):
    def __init__(self, *args: Any, action_logger: Callable | None = None, **kwargs: Any) -> None:
        super().__init__(
            *args, action_logger=RedactingAccessLog(action_logger) if action_logger else None, **kwargs
        )

    def create_application(self, protocol, scope):
        queue = super().create_application(protocol, scope)
        instance = self.connections.get(protocol, {}).get("application_instance")
        if instance is not None and scope.get("type") == "http":
            instance.add_done_callback(lambda future: self._abort_if_failed_mid_response(protocol, future))
        return queue

    def _abort_if_failed_mid_response(self, protocol, future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is None or not getattr(protocol, "_response_started", False):
            return  # Daphne's own handling: a 500 page, or nothing to do
        details = self.connections.get(protocol)
        if details is None or details.get("disconnected"):
            return
        exception = future.exception()
        logger.error("application failed mid-response, connection aborted: %s", exception, exc_info=exception)
        details.pop("application_instance", None)  # handled here: Daphne's checker must not retry
        transport = getattr(getattr(protocol, "channel", None), "transport", None)
        if transport is not None:
            transport.loseConnection()  # what was written still goes out; then the socket closes, no body end


class WorkbenchCommandLine(CommandLineInterface):
    server_class = WorkbenchServer


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
    WorkbenchCommandLine.entrypoint()


if __name__ == "__main__":
    main()
