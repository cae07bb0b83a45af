"""No credential in a log line (issue 13 item 7).

`EventSource` cannot send headers, so the SSE stream takes its JWT as `?token=`, and signed
resource URLs carry `?sig=`: both would land in every access log line. `redact` blanks the
values of such query parameters, anything shaped like a JWT, `Bearer` credentials and the
configured webhook secret. It is applied

- to Daphne's access log by `rpa_workbench.serve` (the server entry point: `python -m
  rpa_workbench.serve`, same options as `daphne`);
- to every record our logging handler writes (`RedactingFilter` on the `console` handler in
  settings.LOGGING), which includes `manage.py runserver`'s access lines.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings

REDACTED = "[redacted]"
SENSITIVE_QUERY_PARAMETERS = ("token", "access_token", "access", "refresh", "sig", "signature", "password")

_QUERY_VALUE = re.compile(
    r"(?P<name>[?&;](?:" + "|".join(SENSITIVE_QUERY_PARAMETERS) + r")=)(?P<value>[^&;#\s\"']*)",
    re.IGNORECASE,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?P<scheme>\bBearer\s+)(?P<value>[^\s\"',]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with credentials replaced by `[redacted]`."""
    if not text:
        return text
    text = _QUERY_VALUE.sub(lambda m: m.group("name") + REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group("scheme") + REDACTED, text)
    secret = getattr(settings, "RPA_WEBHOOK_TOKEN", "") if settings.configured else ""
    if secret and len(secret) >= 8:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message (and traceback text) with credentials redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
