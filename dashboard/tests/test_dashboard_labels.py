"""What the dashboard says where it used to show placeholders, raw numbers or misleading
figures: the calendar-days footnote, the alerts card's count, a fresh app's trend ("new", not
"+100.0%"), the success rate with no runs ("–"), and alert labels in both languages, coloured by
severity (a skipped schedule is not green)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Severity
from dashboard.tests.test_dashboard_page import stat

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client, viewer_user):
    client.force_login(viewer_user)

    def get(language: str = "en") -> str:
        return client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    return get


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_footnote_names_the_zone_in_both_halves(page, language):
    html = page(language)
    assert "按 Asia/Shanghai 时区的自然日统计 · Calendar days in Asia/Shanghai" in html
    assert "%(zone)s" not in html


def test_no_runs_means_no_success_rate(page):
    html = page()
    assert stat(html, "success-rate") == "–"
    assert "0.00" not in html


def test_an_app_with_no_runs_the_week_before_is_new_not_plus_100_percent(page, make_log):
    make_log(app_name="fresh_app", start_time=timezone.now() - timedelta(hours=1))
    make_log(app_name="steady_app", start_time=timezone.now() - timedelta(hours=2))
    make_log(app_name="steady_app", start_time=timezone.now() - timedelta(days=8))
    html = page()
    fresh = html[html.index("fresh_app"):html.index("fresh_app") + 600]
    assert "new" in fresh and "+100.0%" not in fresh
    steady = html[html.index("steady_app"):html.index("steady_app") + 600]
    assert "0.0%" in steady and "vs previous 7 days" in steady


def test_alerts_card_labels_its_count_and_shows_events_in_both_languages(page):
    now = timezone.now()
    Alert.objects.create(event=AlertEvent.SCHEDULE_SKIPPED, severity=Severity.INFO, message="m", occurred_at=now)
    Alert.objects.create(event=AlertEvent.JOB_FAILED, severity=Severity.CRITICAL, message="m", occurred_at=now)
    for language in ("en", "zh-hans"):
        html = page(language)
        assert "发送失败的渠道 Failing channels" in html
        assert '<span class="pill info">定时运行被跳过 Schedule skipped</span>' in html  # not a green "ok" pill
        assert '<span class="pill bad">运行失败 Job failed</span>' in html
