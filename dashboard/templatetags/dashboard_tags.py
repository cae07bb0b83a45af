"""Small formatting filters for the dashboard page."""

from __future__ import annotations

from django import template

from rpa_workbench.timefmt import format_duration

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """754 → "12m 34s" (rpa_workbench.timefmt.format_duration)."""
    return format_duration(seconds)


@register.filter
def signed(value) -> str:
    """12.5 → "+12.5%", -3 → "−3.0%"."""
    value = float(value)
    if value > 0:
        return f"+{value:.1f}%"
    if value < 0:
        return f"−{abs(value):.1f}%"
    return "0.0%"
