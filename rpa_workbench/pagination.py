"""The list envelope every list endpoint answers with (API.md §0)."""

from __future__ import annotations

import math

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# An OFFSET past this is past the end of any table (and past what SQLite and PostgreSQL take as
# a 64-bit integer): such a page is not read, only the rows counted.
MAX_OFFSET = 2**62


def parse_positive_int(params, name: str, default: int, maximum: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: ["must be a whole number"]}) from None
    if value < 1 or (maximum is not None and value > maximum):
        limit = f"between 1 and {maximum}" if maximum is not None else ">= 1"
        raise ValidationError({name: [f"must be {limit}"]})
    return value


class EnvelopePagination(BasePagination):
    """`{total, page, page_size, total_pages, items}`; a page past the end is empty, not 404."""

    def paginate_queryset(self, queryset, request, view=None, *, page_rows=None):
        """The page's rows; `page_rows(queryset)` adds to them what counting does not need
        (annotations: it must not change which rows there are).

        One row more than the page is read: when it is not there, the page is the last one and
        the total is known without a COUNT (the last page of every list, and the only page of a
        short one); otherwise, and for a page past the end, the filtered rows are counted."""
        self.page = parse_positive_int(request.query_params, "page", 1)
        self.page_size = parse_positive_int(request.query_params, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        offset = (self.page - 1) * self.page_size
        if offset > MAX_OFFSET:
            self.total = queryset.count()
            return []
        rows = page_rows(queryset) if page_rows is not None else queryset
        rows = list(rows[offset : offset + self.page_size + 1])
        if len(rows) <= self.page_size and (rows or offset == 0):
            self.total = offset + len(rows)
        else:
            self.total = queryset.count()
        return rows[: self.page_size]

    def get_paginated_response(self, data):
        return Response(
            {
                "total": self.total,
                "page": self.page,
                "page_size": self.page_size,
                "total_pages": math.ceil(self.total / self.page_size) if self.total else 0,
                "items": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["total", "page", "page_size", "total_pages", "items"],
            "properties": {
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "page_size": {"type": "integer"},
                "total_pages": {"type": "integer"},
                "items": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]
