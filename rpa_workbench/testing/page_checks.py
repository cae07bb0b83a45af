"""What the operator-page tests look for in a page's text: an English message id of our
catalogue left untranslated on a Chinese page, and a time written in UTC where the zone is
Asia/Shanghai (or an API time without the display zone's offset)."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings

PO_FILE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# Placeholders split a message id into the literal fragments a page would show.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}")
# A fragment worth looking for: at least two words, or one word of 4+ letters.
WORTH = re.compile(r"[A-Za-z]{4,}|[A-Za-z]+[ -][A-Za-z]+")
ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)?")


def _entries(text: str):
    for block in text.split("\n\n"):
        if block.lstrip().startswith("#~"):
            continue
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if msgid and msgstr:
            unquote = lambda part: "".join(re.findall(r'"(.*)"', part)).replace('\\"', '"')  # noqa: E731
            yield unquote(msgid.group(1)), unquote(msgstr.group(1))


@cache
def english_fragments() -> frozenset[str]:
    """The literal English pieces of our msgids that their Chinese translation does not keep
    (so "API" or "UUID", the same in both, are not looked for)."""
    found = set()
    for msgid, msgstr in _entries(PO_FILE.read_text(encoding="utf-8")):
        if not msgid or not msgstr:
            continue
        for fragment in PLACEHOLDER.split(msgid):
            fragment = fragment.strip(" .,:;()（）·—-→/")
            if WORTH.search(fragment) and fragment not in msgstr:
                found.add(fragment)
    return frozenset(found)


# Django's own admin texts its Chinese catalogue lacks (screen-reader headings of the app list,
# the add-user hint).
DJANGO_UNTRANSLATED = ("Model name", "Add link", "Change or view list link", "After you’ve created a user")
# Text that is English on purpose: permission names (stored by Django in English, "app | model |
# Can …"), and the English line of an alert message (alerts are sent bilingual, "[RPA] …").
ENGLISH_BY_DESIGN = re.compile(r"^.* \| Can .*$|\[RPA\] .*$", re.M)


def untranslated(text: str) -> list[str]:
    """Our English message fragments found as whole words in `text` (case-sensitive)."""
    for django_text in DJANGO_UNTRANSLATED:
        text = text.replace(django_text, "")
    text = ENGLISH_BY_DESIGN.sub("", text)
    return sorted(
        fragment for fragment in english_fragments()
        if re.search(rf"(?<![\w/.@-]){re.escape(fragment)}(?![\w/.@-])", text)
    )


class _VisibleText(HTMLParser):
    """A page's text as people read it: the body's text, the title, and the tooltips and labels
    (title, aria-label, placeholder, alt); not scripts, styles or hidden inputs."""

    SKIP = {"script", "style", "noscript", "template"}
    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
        values = dict(attrs)
        self.parts += [values[name] for name in self.ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def utc_times(text: str, utc_spellings: set[str]) -> list[str]:
    """The UTC spellings (`2026-12-07 01:38`) of stored moments found in `text`, and any ISO
    time with a UTC offset (`…Z`, `…+00:00`)."""
    found = [spelling for spelling in utc_spellings if spelling in text]
    found += [match.group(0) for match in ISO_DATETIME.finditer(text) if match.group(1) in ("Z", "+00:00")]
    return sorted(found)


def off_zone_api_times(text: str, offset: str = "+08:00") -> list[str]:
    """ISO datetimes in an API answer not written with the display zone's offset."""
    return sorted({match.group(0) for match in ISO_DATETIME.finditer(text) if match.group(1) != offset})
