"""JSON that every client can parse: no NaN or Infinity, ever (issue 13).

Python's `json` writes `NaN`/`Infinity`, which `JSON.parse` refuses, and DRF's strict renderer
raises on them instead (a 500). A float that is not finite can only come from a bad stored row,
so it is written as `null`. The common case pays nothing: the data is walked only when the
strict encoding failed.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework.renderers import JSONRenderer


def finite(value: Any) -> Any:
    """`value` with every non-finite float (also inside dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


class FiniteJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer (strict), writing non-finite floats as null rather than failing."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return super().render(finite(data), accepted_media_type, renderer_context)
