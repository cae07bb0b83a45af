"""Coloured status badges for the admin and the dashboard (styles in static/workbench/admin.css)."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString


def badge(value: str | None, label: str | None = None) -> SafeString:
    """`<span class="badge badge-<value>">label</span>`; the label defaults to the value."""
    value = value or "unknown"
    return format_html('<span class="badge badge-{}">{}</span>', value, label or value)


def choice_badge(choices, value: str | None) -> SafeString:
    """A badge labelled with the (translated) label of `value` in a TextChoices class or list."""
    labels = dict(choices.choices if hasattr(choices, "choices") else choices)
    return badge(value, labels.get(value, value))
