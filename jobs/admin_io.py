"""A job's inputs (secrets masked) and outputs on its admin page (API.md §11)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from jobs import inputs as job_inputs


def _table(values: dict[str, Any] | None, table_id: str):
    if values is None:
        return "-"
    if not values:
        return _("(none)")
    rows = format_html_join(
        "", "<tr><th>{}</th><td>{}</td></tr>",
        ((name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)) for name, value in values.items()),
    )  # fmt: skip
    return format_html('<table class="job-io" id="{}">{}</table>', table_id, rows)


@admin.display(description=_("inputs"))
def inputs_shown(obj) -> str:
    return _table(job_inputs.masked(obj.inputs), "job-inputs")


@admin.display(description=_("outputs"))
def outputs_shown(obj) -> str:
    return _table(obj.outputs, "job-outputs")
