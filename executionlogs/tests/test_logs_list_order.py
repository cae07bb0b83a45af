"""Logs started at the same moment keep one order, with or without a sort asked for: pages never
repeat or skip a log (the primary key breaks ties, API.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

LOGS = "/api/v1/logs"
SAME_START = datetime(2026, 1, 21, 9, 0, tzinfo=UTC)


def paged_ids(client, **params) -> list[str]:
    return [
        client.get(LOGS, {"page": page, "page_size": 1, **params}).json()["items"][0]["id"] for page in (1, 2, 3, 4)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, newest_pk_first",
    [({}, True), ({"order": "desc"}, True), ({"sort_by": "start_time"}, True), ({"order": "asc"}, False)],
)
def test_ties_are_broken_by_the_primary_key(viewer_client, make_log, params, newest_pk_first):
    logs = sorted(str(make_log(start_time=SAME_START, app_name=f"app_{n}").pk) for n in range(4))
    assert paged_ids(viewer_client, **params) == (logs[::-1] if newest_pk_first else logs)
