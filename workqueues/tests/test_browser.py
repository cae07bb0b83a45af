"""Headless Chromium: the work queue admin pages and the dashboard's queues card fit a 390 px
phone and a 1280 px screen (the real app under Daphne; every wait is an upper bound)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from rpa_workbench.testing.browser import BROWSER_MARKS, signed_in
from workqueues import items

pytestmark = BROWSER_MARKS

WIDTHS = (390, 1280)


@pytest.fixture
def queue_data(make_queue, make_task):
    queue = make_queue("Orders from the southern region shops", sla_minutes=5, task=make_task(task_name="Process orders"))
    earlier = timezone.now() - timedelta(minutes=42)
    items.add_items(queue=queue, specs=[{"priority": "high", "reference": "ORD-2026-000123-SOUTH-REGION-LONG-REFERENCE",
                                         "payload": {"customer": "上海晨光贸易有限公司", "lines": [{"sku": "TEA-LJ-250", "qty": 3}]}}], now=earlier)
    items.add_items(queue=queue, specs=[{"priority": "normal", "reference": f"ORD-{n}"} for n in range(5)])
    return queue


def test_queue_pages_and_card_fit_a_phone_and_a_laptop(live_server_factory, admin_user, queue_data, browser):
    from playwright.sync_api import expect

    server = live_server_factory()
    item = queue_data.items.order_by("created_at").first()
    paths = ("/admin/workqueues/workqueue/", f"/admin/workqueues/workqueue/{queue_data.pk}/change/",
             "/admin/workqueues/queueitem/", f"/admin/workqueues/queueitem/{item.pk}/change/",
             f"/admin/workqueues/workqueue/{queue_data.pk}/upload/", "/dashboard/")
    shots = os.environ.get("RPA_SCREENSHOTS")  # a folder to look at the pages in
    for width in WIDTHS:
        page = signed_in(browser, server, width)
        for number, path in enumerate(paths):
            page.goto(f"{server.url}{path}")
            expect(page.locator("body")).to_be_visible()
            if shots:
                page.screenshot(path=f"{shots}/queues_{width}_{number}.png", full_page=True)
            width_over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert width_over <= 0, f"{path} is {width_over}px wider than a {width}px screen"
        page.context.close()
