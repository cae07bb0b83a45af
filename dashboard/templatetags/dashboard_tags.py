"""Small formatting filters for the dashboard page."""

from __future__ import annotations

import math

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """754 → "12m 34s", 86400 → "24h 0m", 42.5 → "42.5s", None (or a non-finite bad row) → "—"."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:,}h {minutes}m"


@register.filter
def signed(value) -> str:
    """12.5 → "+12.5%", -3 → "−3.0%"."""
    value = float(value)
    if value > 0:
        return f"+{value:.1f}%"
    if value < 0:
        return f"−{abs(value):.1f}%"
    return "0.0%"
