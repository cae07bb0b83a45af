"""JSON that every client can parse: no NaN or Infinity, ever (issue 13).

Python's `json` writes `NaN`/`Infinity`, which browsers' `JSON.parse` refuses (and DRF's strict
renderer raises on them: a 500). A float that is not finite can only come from a bad stored row,
so it is written as `null`. The common case pays nothing: the data is walked only when the
strict encoding failed. Used by the API's renderer and the event stream.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def finite(value: Any) -> Any:
    """`value` with every non-finite float (also inside dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def finite_dumps(data: Any) -> str:
    """`json.dumps` with Django's encoder (dates, UUIDs …), non-finite floats as null."""
    try:
        return json.dumps(data, cls=DjangoJSONEncoder, allow_nan=False)
    except ValueError:
        return json.dumps(finite(data), cls=DjangoJSONEncoder, allow_nan=False)
