"""The execution-log admin: read-only history, searchable, filterable, exportable, cheap on big tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib import admin

from executionlogs.admin import ExecutionLogAdmin
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/executionlogs/executionlog/"


def listed_apps(response) -> list[str]:
    """App names in the result rows (not the filter sidebar)."""
    return re.findall(r'<td class="field-app_name">([^<]*)</td>', response.content.decode())


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def test_changelist_lists_logs_with_date_hierarchy_and_filters(admin_browser, make_log):
    make_log(app_name="listed_app", start_time=datetime(2026, 1, 21, 6, 30, tzinfo=UTC))
    response = admin_browser.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "listed_app" in html
    assert "xfull-dt" in html or "date-hierarchy" in html or "?start_time__year=2026" in html
    assert 'id="changelist-filter"' in html


def test_admin_is_read_only(admin_browser, make_log):
    log = make_log()
    assert admin_browser.get(f"{CHANGELIST}add/").status_code == 403
    detail = admin_browser.get(f"{CHANGELIST}{log.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_browser.post(f"{CHANGELIST}{log.pk}/change/", {"app_name": "edited"}).status_code == 403
    assert admin_browser.post(f"{CHANGELIST}{log.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ExecutionLog.objects.get(pk=log.pk).app_name == log.app_name


def test_no_bulk_delete_action(admin_browser, make_log):
    make_log()
    html = admin_browser.get(CHANGELIST).content.decode()
    assert "delete_selected" not in html
    assert "export_selected" in html


def test_search_and_filter(admin_browser, make_log):
    make_log(app_name="needle_app")
    make_log(app_name="hay_app", status="failed")
    assert listed_apps(admin_browser.get(f"{CHANGELIST}?q=needle")) == ["needle_app"]
    assert listed_apps(admin_browser.get(f"{CHANGELIST}?status__exact=failed")) == ["hay_app"]
    assert listed_apps(admin_browser.get(f"{CHANGELIST}?app_name=needle_app")) == ["needle_app"]


def test_search_by_id(admin_browser, make_log):
    wanted = make_log(app_name="wanted_app")
    make_log(app_name="other_app")
    assert listed_apps(admin_browser.get(f"{CHANGELIST}?q={wanted.pk}")) == ["wanted_app"]
    assert sorted(listed_apps(admin_browser.get(f"{CHANGELIST}?q=_app"))) == ["other_app", "wanted_app"]


def test_export_selected_gives_the_same_csv(admin_browser, make_log):
    chosen = make_log(app_name="=chosen")
    make_log(app_name="skipped")
    response = admin_browser.post(
        CHANGELIST, {"action": "export_selected", admin.helpers.ACTION_CHECKBOX_NAME: [str(chosen.pk)]}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=execution_logs_")
    data = b"".join(response.streaming_content).decode("utf-8")
    assert data.startswith("\ufeffid,text,app_name,shadow_bot_account,status,start_time,end_time,duration,")
    lines = data.strip().splitlines()
    assert len(lines) == 2
    assert str(chosen.pk) in lines[1] and "'=chosen" in lines[1]


def test_built_for_large_tables():
    model_admin = ExecutionLogAdmin(ExecutionLog, admin.site)
    assert model_admin.show_full_result_count is False
    assert model_admin.list_select_related
    assert model_admin.date_hierarchy == "start_time"


def test_changelist_query_count_does_not_grow_with_rows(
    admin_browser, make_log, make_task, django_assert_max_num_queries
):
    task = make_task()
    for _ in range(30):
        make_log(task=task)
    with django_assert_max_num_queries(12):
        assert admin_browser.get(CHANGELIST).status_code == 200


def test_date_hierarchy_lists_periods_without_scanning_the_table(admin_browser, make_log):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_log(start_time=datetime(2024, 3, 5, 6, 0, tzinfo=UTC))
    make_log(start_time=datetime(2024, 6, 10, 6, 0, tzinfo=UTC))
    make_log(start_time=datetime(2026, 1, 21, 6, 30, tzinfo=UTC))
    with CaptureQueriesContext(connection) as queries:
        html = admin_browser.get(CHANGELIST).content.decode()
    for year in (2024, 2025, 2026):  # every year between the first and the last run
        assert f"?start_time__year={year}" in html
    assert "?start_time__year=2023" not in html and "?start_time__year=2027" not in html
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"] and "trunc" in q["sql"]]
    # first/last start time as two index look-ups, not MIN and MAX in one (scanning) query
    assert not [q["sql"] for q in queries.captured_queries if "MIN(" in q["sql"] and "MAX(" in q["sql"]]

    html = admin_browser.get(f"{CHANGELIST}?start_time__year=2024").content.decode()
    months = re.findall(r"start_time__month=(\d+)", html)
    assert sorted(set(map(int, months))) == [3, 4, 5, 6]  # March to June 2024


def test_date_hierarchy_days_of_a_month(admin_browser, make_log):
    make_log(start_time=datetime(2026, 1, 3, 6, 0, tzinfo=UTC))
    make_log(start_time=datetime(2026, 1, 20, 6, 0, tzinfo=UTC))
    make_log(start_time=datetime(2026, 2, 9, 6, 0, tzinfo=UTC))
    html = admin_browser.get(f"{CHANGELIST}?start_time__year=2026&start_time__month=1").content.decode()
    days = sorted(set(map(int, re.findall(r"start_time__day=(\d+)", html))))
    assert days == list(range(3, 21))
