"""Every string Django's admin shows has its Simplified Chinese translation (issue 24: every
admin string in Chinese and English). Django 5.2's own zh_Hans catalogues lack a few, among them
the robots picker of a pool ("Choose all 机器人"); django_locale_gaps/ fills them. The first
tests fail on a Django upgrade that adds an untranslated string, naming it; the last ones, if
the fill-ins stop reaching the pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.utils import translation

DJANGO_DIR = Path(django.__file__).resolve().parent
GAPS = Path(settings.BASE_DIR) / "django_locale_gaps" / "zh_Hans" / "LC_MESSAGES"
# The catalogues whose strings our admin pages show: the admin's, auth's (users, passwords) and
# core's (forms, validation), and the admin's JavaScript.
CATALOGUES = [
    ("contrib/admin/locale", "django.po"),
    ("contrib/auth/locale", "django.po"),
    ("conf/locale", "django.po"),
    ("contrib/admin/locale", "djangojs.po"),
]
ESCAPES = {'\\"': '"', "\\n": "\n", "\\t": "\t", "\\\\": "\\"}


def translated_ids(po: Path) -> set[tuple[str | None, str]]:
    """(msgctxt, msgid) of the live entries of a .po file that have a translation."""
    return {key for key, text in entries(po) if text}


def english_ids(po: Path) -> set[tuple[str | None, str]]:
    """(msgctxt, msgid) of every live entry: what Django may show."""
    return {key for key, _ in entries(po)}


def entries(po: Path):
    """((msgctxt, msgid), translation) per entry; obsolete (#~) entries and the header left out."""
    def field(entry: str, name: str) -> str | None:
        found = re.search(rf"^{re.escape(name)} ((?:\".*\"\n?)+)", entry, re.M)
        if not found:
            return None
        joined = "".join(re.findall(r'^"(.*)"$', found.group(1), re.M))
        return re.sub(r'\\["nt\\]', lambda match: ESCAPES[match.group(0)], joined)

    for entry in po.read_text(encoding="utf-8").split("\n\n"):
        entry = "\n".join(line for line in entry.splitlines() if not line.startswith("#"))
        msgid = field(entry, "msgid")
        if msgid:
            yield (field(entry, "msgctxt"), msgid), field(entry, "msgstr") or field(entry, "msgstr[0]")


@pytest.mark.parametrize(("catalogue", "domain"), CATALOGUES)
def test_every_django_string_of_the_admin_has_a_chinese_translation(catalogue, domain):
    wanted = english_ids(DJANGO_DIR / catalogue / "en/LC_MESSAGES" / domain)
    have = translated_ids(DJANGO_DIR / catalogue / "zh_Hans/LC_MESSAGES" / domain) | translated_ids(GAPS / domain)
    missing = sorted(msgid for context, msgid in wanted - have)
    assert missing == [], f"translate them in {GAPS / domain}: {missing}"


def test_the_fill_ins_reach_the_server_side_pages():
    with translation.override("zh-hans"):
        assert translation.gettext("Model name") == "模型名称"
        assert translation.gettext("Save") == "保存"  # Django's own catalogue still answers the rest


@pytest.mark.django_db
def test_the_fill_ins_reach_the_admins_javascript(admin_client):
    """As the browser gets them: the robots picker of a pool reads "选择全部 机器人"."""
    answer = admin_client.get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", answer.content.decode(), re.S).group(1))
    assert catalog["Choose all %s"] == "选择全部 %s"
    assert catalog["Remove selected %s"] == "删除选中的 %s"
    assert catalog["Available %s"] == "可用 %s"
