"""What a process publishes to Pushpin for events committed together (a request's events)."""

from __future__ import annotations

import uuid

from django_eventstream.utils import make_id, sse_encode_event

from rpa_workbench import pushpin
from rpa_workbench.event_store import ALL_CHANNEL, StoredRow, account_channel

ACCOUNT = str(uuid.uuid4())


def rows() -> list[StoredRow]:
    return [
        StoredRow(41, "log_created", ACCOUNT, '{"n": 1}'),
        StoredRow(42, "job_updated", ACCOUNT, '{"n": 2}'),
        StoredRow(43, "alert_raised", None, '{"n": 3}'),
    ]


def test_events_published_together_are_one_item_per_channel_in_order():
    """Pushpin works per item and subscriber: a webhook's events go out as one item per channel,
    the same SSE blocks (payload and `<channel>:<id>` id) the in-process stream sends."""
    published = {item["channel"]: item for item in pushpin.items(rows())}

    assert set(published) == {ALL_CHANNEL, account_channel(ACCOUNT)}
    everything = published[ALL_CHANNEL]
    assert everything["id"] == "43"
    assert everything["formats"]["http-stream"]["content"] == "".join(
        sse_encode_event(row.type, row.data, event_id=make_id({ALL_CHANNEL: row.position})) for row in rows()
    )
    one_account = published[account_channel(ACCOUNT)]
    assert one_account["id"] == "42"  # the account's own events only
    assert one_account["formats"]["http-stream"]["content"] == "".join(
        pushpin.sse_block(account_channel(ACCOUNT), row) for row in rows()[:2]
    )
