"""Checks for the cached reads (rpa_workbench/list_cache.py): a change must move the key of the
reads it alters (its event, in its transaction), and what changes nothing must not."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import caches

READS = ("/api/v1/accounts", "/api/v1/tasks", "/api/v1/jobs", "/api/v1/logs")


def tags(client, paths: tuple[str, ...] = READS) -> dict[str, str]:
    tags = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        tags[path] = response["ETag"]
    return tags


@contextlib.contextmanager
def moves_the_key(client, paths: tuple[str, ...] = READS) -> Iterator[None]:
    """The enclosed change moves the key of every read in `paths`: with the ETags read before,
    each read answers 200 (a fresh answer), not 304."""
    before = tags(client, paths)
    yield
    for path, tag in before.items():
        response = client.get(path, HTTP_IF_NONE_MATCH=tag)
        assert response.status_code == 200, f"{path}: the change left the key where it was (a stale answer)"
        assert response["ETag"] != tag


@contextlib.contextmanager
def keeps_the_key(client, paths: tuple[str, ...] = READS) -> Iterator[None]:
    """The enclosed action changes nothing: every read still answers 304 to its ETag."""
    before = tags(client, paths)
    yield
    for path, tag in before.items():
        assert client.get(path, HTTP_IF_NONE_MATCH=tag).status_code == 304, path


def forget_cached_reads() -> None:
    """For a test that writes rows without their events (a factory): what was cached is dropped."""
    caches[settings.RPA_LIST_CACHE_ALIAS].clear()
