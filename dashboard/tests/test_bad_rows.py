"""Issue 13 item 1: rows with absurd durations (stored before the webhook bounded them) never
break the dashboard. Every endpoint answers 200 with finite JSON, and the migration clamps them."""

from __future__ import annotations

import importlib
import json
import math
import re

import pytest
from django.apps import apps as django_apps

from executionlogs.limits import MAX_DURATION_SECONDS
from executionlogs.models import ExecutionLog

pytestmark = pytest.mark.django_db

API_ENDPOINTS = [
    "/api/v1/dashboard/stats",
    "/api/v1/dashboard/performance",
    "/api/v1/dashboard/performance?days=30&dimension=month",
    "/api/v1/dashboard/execution-rank",
    "/api/v1/logs",
]
PAGES = ["/dashboard/", "/dashboard/content"]


def strict_json(text: str):
    """Parse refusing NaN/Infinity, which browsers' JSON.parse refuses too."""

    def refuse(constant):
        raise AssertionError(f"non-finite JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def all_finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(all_finite(item) for item in value)
    return True


@pytest.fixture
def absurd_rows(make_log):
    """Two runs of 1e308 s each (their sum overflows a double), an infinite and a negative one."""
    for duration in (1e308, 1e308, float("inf"), -5.0):
        make_log(app_name="runaway", duration=60.0)
        ExecutionLog.objects.filter(pk=ExecutionLog.objects.order_by("-created_at").first().pk).update(
            duration=duration
        )
    make_log(app_name="normal", duration=120.0)


@pytest.mark.parametrize("url", API_ENDPOINTS)
def test_every_dashboard_endpoint_answers_finite_json_over_absurd_rows(viewer_client, absurd_rows, url):
    response = viewer_client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert all_finite(strict_json(response.content.decode()))


def test_rank_counts_an_absurd_duration_as_at_most_thirty_days(viewer_client, absurd_rows):
    items = {item["app_name"]: item for item in viewer_client.get("/api/v1/dashboard/execution-rank").json()["items"]}
    assert items["normal"]["total_duration"] == 120.0
    assert items["runaway"]["total_duration"] == 3 * MAX_DURATION_SECONDS


@pytest.mark.parametrize("url", PAGES)
def test_dashboard_pages_render_over_absurd_rows(client, viewer_user, absurd_rows, url):
    client.force_login(viewer_user)
    response = client.get(url)
    assert response.status_code == 200
    assert not re.search(rb"\b(nan|inf|infinity)\b", response.content, re.IGNORECASE)


def test_a_non_finite_stored_duration_is_listed_as_null(viewer_client, absurd_rows):
    durations = [item["duration"] for item in viewer_client.get("/api/v1/logs?page_size=100").json()["items"]]
    assert None in durations and 1e308 in durations


def test_the_migration_clamps_stored_durations_into_range(absurd_rows):
    migration = importlib.import_module("executionlogs.migrations.0003_clamp_durations")
    migration.clamp_durations(django_apps, None)
    durations = sorted(ExecutionLog.objects.values_list("duration", flat=True))
    assert all(0 <= value <= MAX_DURATION_SECONDS for value in durations)
    assert durations.count(MAX_DURATION_SECONDS) == 3
    assert 0.0 in durations and 120.0 in durations
