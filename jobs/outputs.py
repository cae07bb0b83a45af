"""A job's outputs (API.md §11): what the run reported back, as `{name: value}`.

Robots send an object `{name: value}` or Yingdao's list `[{name, value, type}]` (on
`execution-complete`, in Yingdao's callback `result` and in `job/query`'s
`robotParams.outputs`); both are read here, once, within the limits: at most 100 names and
64 KB as JSON. A robot's report beyond them is a 400; Yingdao's, which we cannot refuse, is
kept without its outputs (logged).
"""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

MAX_NAMES = 100
MAX_BYTES = 64 * 1024
NAME_MAX = 100


class OutputsError(ValueError):
    pass


def parse(raw: Any) -> dict[str, Any] | None:
    """`raw` as `{name: value}` (None when absent), or OutputsError saying what is wrong."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise OutputsError("must be an object {name: value} or a list of {name, value}") from None
    if isinstance(raw, list):
        found: dict[str, Any] = {}
        for index, entry in enumerate(raw):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise OutputsError(f"item {index + 1}: must be an object with a name and a value")
            found[entry["name"]] = entry.get("value")
        raw = found
    if not isinstance(raw, dict):
        raise OutputsError("must be an object {name: value} or a list of {name, value}")
    if len(raw) > MAX_NAMES:
        raise OutputsError(f"at most {MAX_NAMES} names (got {len(raw)})")
    for name in raw:
        if not name or len(name) > NAME_MAX:
            raise OutputsError(f"names must be 1..{NAME_MAX} characters")
    try:
        size = len(json.dumps(raw, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise OutputsError("must be JSON values") from None
    if size > MAX_BYTES:
        raise OutputsError(f"{size} bytes as JSON, over the limit of {MAX_BYTES}")
    return dict(raw)


def from_yingdao(raw: Any, *, job_uuid: str = "") -> dict[str, Any] | None:
    """Yingdao's outputs, or None when absent or beyond the limits (logged: Yingdao's report is
    still applied, and a refusal would only make it retry the same body)."""
    try:
        return parse(raw)
    except OutputsError as exc:
        logger.warning("yingdao job %s: outputs not stored: %s", job_uuid, exc)
        return None
