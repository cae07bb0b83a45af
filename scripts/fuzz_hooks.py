"""schemathesis hooks for scripts/fuzz_api.py (loaded through SCHEMATHESIS_HOOKS).

Daphne (Twisted) answers two kinds of request itself, before the application sees them, so no
view can give them the API's error shape; docs/api-schema.md says what the reverse proxy in
front should enforce instead. Such requests are not generated here:
- a multipart/form-data POST body without any part (every field left out, or an empty array):
  a bare `400` (no headers, no JSON);
- a request line over Twisted's 16 KiB line limit (e.g. a 4,096-character proxy `url` of
  non-ASCII characters, percent-encoded): the connection is closed without a response.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import schemathesis

# The request line is `GET <path>?<query> HTTP/1.1`: keep well under Twisted's 16,384 bytes.
MAX_TARGET_BYTES = 12 * 1024


def request_target_bytes(case) -> int:
    path = case.formatted_path if hasattr(case, "formatted_path") else case.path
    query = urlencode(case.query or {}, doseq=True, quote_via=quote)
    return len(quote(str(path), safe="/")) + len(query) + 1


def has_no_part(body) -> bool:
    """A multipart body that encodes to no part at all: empty, or only fields left out (None)
    or empty arrays (an array is one part per item)."""
    if isinstance(body, dict):
        return all(value is None or (isinstance(value, list | tuple) and not value) for value in body.values())
    return not body


@schemathesis.hook
def filter_case(ctx, case) -> bool:
    if (case.media_type or "").startswith("multipart/form-data") and has_no_part(case.body):
        return False
    return request_target_bytes(case) <= MAX_TARGET_BYTES
