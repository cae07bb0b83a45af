"""CSV upload of items (API.md §13): `reference,priority,payload,defer_until,due_at` columns, any
other column a payload key; every line checked by the same rules as the API
(workqueues.validation), every error reported with its line, and nothing added unless every
line is good. Excel's files are read too: UTF-8 with or without BOM, else GB18030 (简体中文 Excel)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rpa_workbench.errors import first_validation_message
from workqueues import items
from workqueues.models import WorkQueue
from workqueues.validation import ItemInSerializer

MAX_LINES = 10_000
MAX_BYTES = 5 * 1024 * 1024
KNOWN = ("reference", "priority", "payload", "defer_until", "due_at")


@dataclass
class Upload:
    created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < 200:
            self.errors.append({"line": line, "message": message})


def decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("the file is neither UTF-8 nor GB18030 text")


def _spec(row: dict[str, str]) -> dict[str, Any]:
    """One line as the API's item body: known columns as fields, others as payload keys."""
    body: dict[str, Any] = {}
    payload: Any = {}
    raw_payload = (row.get("payload") or "").strip()
    if raw_payload:
        payload = json.loads(raw_payload)  # ValueError → the line's error
    extra = {key.strip(): value for key, value in row.items() if key and key.strip() not in KNOWN and value not in (None, "")}
    if extra:
        if not isinstance(payload, dict):
            raise ValueError("payload must be a JSON object")
        payload = {**payload, **extra}
    body["payload"] = payload
    for name in ("reference", "priority", "defer_until", "due_at"):
        value = (row.get(name) or "").strip()
        if value:
            body[name] = value
    return body


def parse(raw: bytes, queue: WorkQueue) -> tuple[list[dict[str, Any]], Upload]:
    """The validated items of the file, and its per-line errors (line 1 is the header)."""
    result = Upload()
    if len(raw) > MAX_BYTES:
        result.error(0, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
        return [], result
    try:
        text = decode(raw)
    except ValueError as exc:
        result.error(0, str(exc))
        return [], result
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not any(name and name.strip() for name in reader.fieldnames):
        result.error(1, "the first line must name the columns (reference,priority,payload,…)")
        return [], result
    specs: list[dict[str, Any]] = []
    lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if len(specs) + len(result.errors) >= MAX_LINES:
            result.error(line, f"at most {MAX_LINES} items per file")
            break
        if None in row:
            result.error(line, "more values than columns")
            continue
        if not any((value or "").strip() for value in row.values()):
            continue  # a blank line
        try:
            body = _spec(row)
        except ValueError as exc:
            result.error(line, f"payload: not a JSON object ({exc})")
            continue
        serializer = ItemInSerializer(data=body)
        if not serializer.is_valid():
            result.error(line, first_validation_message(serializer.errors))
            continue
        specs.append(serializer.validated_data)
        lines.append(line)
    if not specs and not result.errors:
        result.error(2, "the file has no items")
    if queue.unique_references:
        _check_references(queue, specs, lines, result)
    return specs, result


def _check_references(queue: WorkQueue, specs: list[dict[str, Any]], lines: list[int], result: Upload) -> None:
    references = [spec.get("reference") or "" for spec in specs]
    seen = Counter(ref for ref in references if ref)
    taken = items.taken_references(queue, [ref for ref in seen])
    first_line: dict[str, int] = {}
    for ref, line in zip(references, lines, strict=True):
        if not ref:
            continue
        if ref in taken:
            result.error(line, f"reference {ref} is already in the queue")
        elif ref in first_line:
            result.error(line, f"reference {ref} repeats line {first_line[ref]}")
        else:
            first_line[ref] = line


def upload(*, queue: WorkQueue, raw: bytes, now: datetime | None = None) -> Upload:
    """Add every item of the file, or none when any line is wrong (then `errors` says which)."""
    specs, result = parse(raw, queue)
    if result.errors:
        result.errors.sort(key=lambda error: error["line"])
        return result
    result.created = len(items.add_items(queue=queue, specs=specs, now=now, limit=MAX_LINES))
    return result
