"""Every page an operator reads, rendered as the server sends it (the browser test looks at the
same pages on screen): in Chinese no English message of ours is left, and no time is written
in UTC — on any admin page (lists, change and add pages, a robot's queue, the dashboard), and
in any answer of the API (every datetime with the display zone's offset)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation

from rpa_workbench.testing import page_checks
from rpa_workbench.testing.showcase import admin_pages, build_showcase, stored_datetimes, utc_spellings

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def showcase(db):
    return build_showcase()


def rendered(client, path: str, **headers) -> str:
    response = client.get(path, **headers)
    assert response.status_code == 200, (path, response.status_code)
    return page_checks.visible_text(response.content.decode())


def test_the_checker_finds_an_untranslated_message_and_a_utc_time():
    """The checks themselves: they see what they must fail on."""
    found = page_checks.untranslated("作业 Stop selected jobs (a queued one is cancelled) 列表")
    assert any(fragment.startswith("Stop selected jobs (a queued one") for fragment in found)
    assert page_checks.untranslated("机器人 finance_robot_shanghai_01 · 192.168.100.200") == []
    assert page_checks.utc_times("失败 2026-12-07 01:38", {"2026-12-07 01:38"}) == ["2026-12-07 01:38"]
    assert page_checks.utc_times('"at": "2026-12-07T01:38:17Z"', set()) == ["2026-12-07T01:38:17Z"]


def test_every_admin_page_in_chinese_has_no_english_message_of_ours(root, showcase):
    missing = {}
    for path in admin_pages(showcase, dashboard=False):  # the dashboard is bilingual by design
        text = rendered(root, path, **ZH)
        found = page_checks.untranslated(text)
        if found:
            missing[path] = [(fragment, text[max(0, text.find(fragment) - 40): text.find(fragment) + 60]) for fragment in found]
    assert missing == {}, "\n".join(f"{path}: {found}" for path, found in missing.items())


def test_every_admin_page_shows_times_in_the_display_zone(root, showcase):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    wrong = utc_spellings(stored_datetimes())
    strays = {}
    for headers in (ZH, EN):
        for path in admin_pages(showcase):
            text = rendered(root, path, **headers)
            found = page_checks.utc_times(text, wrong) + (["UTC"] if re.search(r"\bUTC\b", text) else [])
            if found:
                strays[(headers["HTTP_ACCEPT_LANGUAGE"], path)] = found
    assert strays == {}
    # …and the local reading is there: the failed run (01:17 UTC) reads 09:17 on its log page.
    assert "2026-12-07 09:17" in rendered(root, f"/admin/executionlogs/executionlog/{showcase['log'].pk}/change/", **EN)


def test_titles_captions_and_alert_titles_use_the_display_zone_and_the_language(root, showcase):
    with translation.override("zh-hans"):
        assert str(showcase["alert"]) == "运行失败，2026-12-07 09:29:17"
        assert str(showcase["delivery"]) == "运行失败 → 运维群 ops webhook（已发送）"
    with translation.override("en"):
        assert str(showcase["log"]) == (
            "daily_sales_report_region @ finance_robot_shanghai_01 · Failed 2026-12-07 09:17"
        )
    page = rendered(root, f"/admin/alerts/alert/{showcase['alert'].pk}/change/", **ZH)
    assert "运行失败，2026-12-07 09:29:17" in page


API_IDS = {"accounts": "account", "tasks": "task", "logs": "log", "jobs": "failed_job", "alerts/channels": "channel"}
# GET endpoints that are not JSON answers about our records.
API_SKIPPED = ("/api/v1/sse/", "/api/v1/resources/", "/api/v1/openapi.json", "/api/v1/auth/token", "/api/v1/webhook/")


def api_paths(client, shown) -> list[str]:
    """Every GET of the OpenAPI document; a path's `{id}` filled with a row of the showcase."""
    schema = client.get("/api/v1/openapi.json").json()
    paths = []
    for path, operations in schema["paths"].items():
        if "get" not in operations or path.startswith(API_SKIPPED):
            continue
        if "{" in path:
            prefix = path.removeprefix("/api/v1/").split("/{")[0]
            if prefix not in API_IDS or path.count("{") > 1:
                continue
            path = re.sub(r"\{[^}]+\}", str(shown[API_IDS[prefix]].pk), path)
        paths.append(path)
    return paths


def test_every_api_answer_writes_times_with_the_display_zones_offset(admin_client_api, showcase):
    paths = api_paths(admin_client_api, showcase)
    assert {"/api/v1/dashboard/stats", "/api/v1/dashboard/execution-rank", "/api/v1/jobs"} <= set(paths)
    strays = {}
    for path in paths:
        response = admin_client_api.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:200])
        body = b"".join(response.streaming_content) if response.streaming else response.content  # CSV streams
        found = page_checks.off_zone_api_times(body.decode())
        if found:
            strays[path] = found
    assert strays == {}
    stats = admin_client_api.get("/api/v1/dashboard/stats").json()
    assert stats["generated_at"].endswith("+08:00")
    assert stats["jobs"]["oldest_queued_at"] == "2026-12-07T09:37:17+08:00"
