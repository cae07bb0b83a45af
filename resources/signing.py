"""Signed, expiring URLs for stored files and proxied cloud objects (owned by the resources app).

`signed_resource_url(value)` turns a log's screenshot/log location (a cloud URL or a stored
file path) into a URL that works without an Authorization header, or None when there is none.
"""

from __future__ import annotations


def signed_resource_url(value: str | None, *, download: bool = False) -> str | None:
    if not value:
        return None
    return None
