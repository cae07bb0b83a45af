"""The SSE wire format of our streams (in-process and through Pushpin): one place.

An event's id line names its channel and position, `<channel>:<id>` (channels URL-quoted,
several joined by commas), the format django-eventstream clients already resume with; the
project owns these few lines instead of reaching into the library's `utils`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_UNSAFE_IN_FIELD = re.compile(r"[\r\n\0]")


@dataclass
class LiveEvent:
    """One committed event on one channel, as the hub queues it for that channel's streams.
    `block` is its SSE text, encoded once and shared by every stream of the channel."""

    channel: str
    type: str
    data: str
    id: int
    block: str | None = field(default=None, compare=False, repr=False)

    def encoded(self) -> str:
        if self.block is None:
            self.block = encode_event(self.type, self.data, make_id({self.channel: self.id}))
        return self.block


def make_id(last_ids: dict[str, int]) -> str:
    """The id line's value: `<channel>:<id>[,…]`."""
    return ",".join(f"{quote(channel)}:{position}" for channel, position in last_ids.items())


def parse_last_event_id(raw: str) -> dict[str, int]:
    """A `Last-Event-ID` in the form `make_id` writes; ValueError when it is not."""
    parsed: dict[str, int] = {}
    for part in raw.split(","):
        channel, position = part.rsplit(":", 1)
        parsed[unquote(channel)] = int(position)
    return parsed


def encode_event(event_type: str, data: str, event_id: str | None = None) -> str:
    """One SSE block: `event:`, `id:` (when given), one `data:` line per line of `data`."""
    lines = [f"event: {_UNSAFE_IN_FIELD.sub('', event_type)}\n"]
    if event_id:
        lines.append(f"id: {_UNSAFE_IN_FIELD.sub('', event_id)}\n")
    lines.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    lines.append("\n")
    return "".join(lines)
