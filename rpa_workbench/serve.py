"""The server entry point: `python -m rpa_workbench.serve -b 127.0.0.1 -p 8888 rpa_workbench.asgi:application`.

Daphne's own command line, unchanged, except that the path of every access-log entry goes
through `redaction.redact` first: Daphne writes the request's full URL, and the SSE stream's
`?token=<JWT>` would otherwise be in every line (issue 13 item 7). Plain `daphne` still works,
but then run it with `--access-log /dev/null` or behind a proxy that logs redacted URLs.
Pinned by rpa_workbench/tests/test_log_redaction.py (Daphne 4.2).
"""

from __future__ import annotations

import os
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server


class RedactingServer(Server):
    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        if isinstance(details.get("path"), str):
            from rpa_workbench.redaction import redact  # after Django's settings are configured

            details = {**details, "path": redact(details["path"])}
        super().log_action(protocol, action, details)


class RedactingCommandLine(CommandLineInterface):
    server_class = RedactingServer


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
    RedactingCommandLine.entrypoint()


if __name__ == "__main__":
    main()
