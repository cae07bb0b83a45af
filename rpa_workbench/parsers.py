"""The request body parser for JSON, with the limits every endpoint needs (issue 13).

DRF's own JSON parser reads the whole stream whatever its size (Django's
DATA_UPLOAD_MAX_MEMORY_SIZE guards only `request.body` and forms), lets `RecursionError` from a
deeply nested body escape as a 500, and hands on values no database column can hold. This one:

- reads at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes: a bigger body is `RequestDataTooBig` → 413;
- refuses nesting deeper than MAX_JSON_DEPTH → 400 (so no later step can hit the recursion limit);
- refuses, naming the field: NaN/Infinity (also `1e400`, which Python reads as infinity), NUL
  characters and lone surrogates (PostgreSQL rejects both in text and jsonb).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

MAX_JSON_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class JSONValueError(ValueError):
    """A parsed JSON value that must be refused; `path` names where (`result_summary.note`)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _check_text(text: str, path: str) -> None:
    found = _UNSTORABLE.search(text)
    if found:
        what = "NUL characters" if found.group() == "\x00" else "unpaired surrogate characters"
        raise JSONValueError(path, f"must not contain {what}")


def check_json_value(value: Any, path: str = "", max_depth: int = MAX_JSON_DEPTH, *, texts: bool = True) -> None:
    """Raise JSONValueError for too deep nesting, non-finite numbers or (when `texts`)
    unstorable text, naming where. Iterative, so never a RecursionError.

    A fast pass over the containers only says whether something is wrong; the slower pass that
    builds field paths runs only then (a 1.4 MB body costs a few times a bare parse, not ten).
    """
    if _has_problem(value, max_depth, texts):
        _report_problem(value, path, max_depth, texts)


def _has_problem(value: Any, max_depth: int, texts: bool) -> bool:
    if isinstance(value, str):
        return texts and _UNSTORABLE.search(value) is not None
    if isinstance(value, float):
        return value - value != 0  # NaN and ±Infinity
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(value, 0)]
    search = _UNSTORABLE.search
    while stack:
        item, depth = stack.pop()
        if depth >= max_depth:
            return True
        if isinstance(item, dict):
            if texts and any(search(key) for key in item):
                return True
            children = item.values()
        else:
            children = item
        for child in children:
            kind = type(child)
            if kind is str:
                if texts and search(child):
                    return True
            elif kind is float:
                if child - child != 0:
                    return True
            elif kind is dict or kind is list:
                stack.append((child, depth + 1))
    return False


def _report_problem(value: Any, path: str, max_depth: int, texts: bool) -> None:
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if texts:
                _check_text(item, where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JSONValueError(where, "must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise JSONValueError(where, f"is nested too deeply (at most {max_depth} levels)")
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in entries:
                if texts and isinstance(key, str):
                    _check_text(key, where)
                stack.append((child, _child(where, key), depth + 1))


def loads_json_text(
    text: str, path: str = "", max_depth: int = MAX_JSON_DEPTH, *, from_utf8: bool = True
) -> Any:
    """`json.loads` that raises only ValueError (JSONValueError for a refused value), never
    RecursionError, and reads NaN/Infinity only to refuse them by name."""
    try:
        value = json.loads(text, parse_constant=float)
    except RecursionError:
        raise JSONValueError(path, f"is nested too deeply (at most {max_depth} levels)") from None
    # Decoded UTF-8 can hold NUL or a lone surrogate only through a \u escape (strict JSON refuses
    # raw control characters, UTF-8 refuses encoded surrogates): look at strings only then.
    texts = not from_utf8 or _UNSTORABLE_ESCAPE.search(text) is not None
    check_json_value(value, path, max_depth, texts=texts)
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser with a size cap, a depth cap and storable values (see the module doc)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestDataTooBig(f"the request body is larger than {limit} bytes")
        try:
            from_utf8 = encoding.lower().replace("-", "").replace("_", "") == "utf8"
            return loads_json_text(raw.decode(encoding), from_utf8=from_utf8)
        except JSONValueError as exc:
            if exc.path:
                raise ValidationError({exc.path: [exc.message]}) from None
            raise ValidationError([exc.message]) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
