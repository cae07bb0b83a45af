"""Inputs and outputs with real processes (API.md §11): Daphne, the robot simulator as the relay
(a `manage.py simulate_robots` subprocess) reading its job's inputs from config/get and
reporting outputs; and the admin's "Start with inputs…" in headless Chromium."""

from __future__ import annotations

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from jobs.models import Job
from rpa_workbench.testing.browser import BROWSER_MARKS, signed_in
from rpa_workbench.testing.waiting import wait_for
from tasks.models import TaskParameter
from tasks.tests.test_end_to_end import _system, robots  # noqa: F401 — the simulator fixture

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def export_task(make_account, make_task):
    task = make_task(account=make_account(host_ip="10.20.0.9", port=8109), task_name="Export orders",
                     app_name="export_orders")  # fmt: skip
    TaskParameter.objects.create(task=task, position=0, name="order_date", required=True)
    TaskParameter.objects.create(task=task, position=1, name="limit", type="int", default=50)
    TaskParameter.objects.create(task=task, position=2, name="password", secret=True, default="pw-robot-only")
    return task


def test_a_relay_robot_reads_its_inputs_and_reports_outputs(live_server_factory, robots, export_task, admin_user):  # noqa: F811
    server = _system(live_server_factory, robots)
    token = str(AccessToken.for_user(admin_user))
    answer = requests.post(f"{server.url}/api/v1/tasks/{export_task.pk}/start", timeout=15,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"inputs": {"order_date": "2026-01-21", "limit": "7"}})  # fmt: skip
    assert answer.status_code == 200, answer.text

    job = wait_for(lambda: Job.objects.filter(pk=answer.json()["job_id"], outputs__isnull=False).first(), timeout=30,
                   what=f"the job's outputs\n{server.log()}")  # fmt: skip
    assert job.status == "completed" and job.execution_log_id is not None
    outputs = job.outputs
    assert outputs["inputs_received"] == ["limit", "order_date", "password"]
    assert (outputs["echo_order_date"], outputs["echo_limit"]) == ("2026-01-21", 7)
    assert "echo_password" not in outputs and outputs["exported_items"] >= 0
    shown = requests.get(f"{server.url}/api/v1/jobs/{job.pk}", headers={"Authorization": f"Bearer {token}"}, timeout=15)
    assert shown.json()["outputs"] == outputs and shown.json()["inputs"]["password"] == "******"


def test_the_admin_start_with_inputs_form_runs_a_job_whose_page_shows_inputs_then_outputs(
    live_server_factory, robots, export_task, admin_user, browser  # noqa: F811
):
    from playwright.sync_api import expect

    server = _system(live_server_factory, robots)
    page = signed_in(browser, server)

    page.goto(f"{server.url}/admin/tasks/task/{export_task.pk}/change/")
    page.locator("#start-with-inputs").click()
    expect(page.locator("label[for=id_order_date].required")).to_be_visible()
    page.fill("#id_order_date", "2026-02-02")
    page.fill("#id_limit", "9")
    page.fill("#id_password", "typed-in-browser")
    page.locator("input[name=start]").click()

    page.wait_for_url("**/admin/jobs/job/*/change/")
    expect(page.locator("ul.messagelist")).to_contain_text("Export orders")
    inputs = page.locator("#job-inputs")
    expect(inputs).to_contain_text("2026-02-02")
    expect(inputs).to_contain_text("******")
    assert "typed-in-browser" not in page.content()

    def outputs_shown() -> bool:
        page.reload()
        return page.locator("#job-outputs").count() > 0

    wait_for(outputs_shown, timeout=30, what=f"the job's outputs on its page\n{server.log()}")
    expect(page.locator("#job-outputs")).to_contain_text("echo_order_date")
    expect(page.locator("#job-outputs")).to_contain_text("2026-02-02")
    assert "typed-in-browser" not in page.content()
    page.context.close()


for _mark in BROWSER_MARKS:  # browser, live, and the skips when Chromium or Playwright is missing
    test_the_admin_start_with_inputs_form_runs_a_job_whose_page_shows_inputs_then_outputs = _mark(
        test_the_admin_start_with_inputs_form_runs_a_job_whose_page_shows_inputs_then_outputs
    )
