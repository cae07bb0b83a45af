"""Small formatting filters for the dashboard page."""

from __future__ import annotations

from django import template
from django.utils import translation

from rpa_workbench.timefmt import format_duration

register = template.Library()

# The dashboard is bilingual whatever the browser's language: the Chinese half of each label
# comes from the project's catalogue (locale/zh_Hans), the English half is the message id.
CHINESE = "zh-hans"


@register.simple_tag
def zh(message, **params) -> str:
    """`{% zh _("Completed") %}` → 完成; `{% zh _("Calendar days in %(zone)s") zone=name %}`.

    A template's `_("…")` escapes `%` as `%%` in the message id it looks up (Django does, for
    strings it formats itself), so a message with parameters is looked up again unescaped."""
    with translation.override(CHINESE):
        text = str(message)
        if params:
            text = translation.gettext(text.replace("%%", "%"))
    return text % params if params else text


@register.simple_tag
def en(message) -> str:
    """The English half of a bilingual label whatever the page's language: `{% en label %}`."""
    with translation.override("en"):
        return str(message)


@register.filter
def percent_or_dash(value, runs) -> str:
    """94.591 → "94.59"; with no runs at all there is no rate: "–"."""
    if not runs:
        return "–"
    return f"{float(value):.2f}"


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
