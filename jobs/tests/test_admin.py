"""The jobs admin: the list (waited, ran, queue position), a robot's queue, the recent jobs inline
on task and account pages, and the cancel / stop / retry actions — which go through
`jobs.services` (never writing a status themselves) and are refused to a viewer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from jobs.admin import queue_url
from jobs.models import Job, JobReason, JobStatus

pytestmark = pytest.mark.django_db

JOBS_URL = "/admin/jobs/job/"


@pytest.fixture
def robot_task(make_task, make_account):
    return make_task(account=make_account(shadow_bot_account="bot_q", host_ip="10.1.0.1", port=8000))


def run_action(client, action: str, *jobs: Job):
    return client.post(JOBS_URL, {"action": action, "index": "0", "_selected_action": [str(j.pk) for j in jobs]})


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_cancel_moves_a_queued_job_through_cancel_job(
    operator, robot_task, make_job, calls, published_events, django_capture_on_commit_callbacks
):
    job = make_job(robot_task)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(operator, "cancel_selected", job)

    assert response.status_code == 302 and calls == ["cancel_job"]
    job.refresh_from_db()
    assert (job.status, job.reason) == (JobStatus.CANCELLED, JobReason.CANCELLED)
    assert any(kind == "job_updated" for kind, _ in published_events)


def test_a_refused_cancel_says_why_and_changes_nothing(operator, robot_task, make_job, calls):
    job = make_job(robot_task, status=JobStatus.RUNNING, dispatched_at=timezone.now(), started_at=timezone.now())

    response = run_action(operator, "cancel_selected", job)

    assert calls == ["cancel_job"]
    assert any("refused" in text and "running" in text for text in texts(response))
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_stop_sends_the_backends_stop_for_a_running_job(operator, robot_task, make_job, calls, fake_relay):
    job = make_job(robot_task, status=JobStatus.RUNNING, dispatched_at=timezone.now(), started_at=timezone.now())

    run_action(operator, "stop_selected", job)

    assert calls == ["stop_job"]
    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    job.refresh_from_db()
    assert job.status == JobStatus.STOPPING


def test_retry_creates_a_new_job_and_hands_it_to_the_dispatcher(operator, robot_task, make_job, calls, fake_relay):
    failed = make_job(robot_task, status=JobStatus.FAILED, reason=JobReason.ROBOT_REPORTED_FAILURE,
                      finished_at=timezone.now())

    run_action(operator, "retry_selected", failed)

    assert calls == ["retry_job"]
    retry = Job.objects.get(retry_of=failed)
    assert (retry.status, retry.attempt, retry.source) == (JobStatus.DISPATCHED, 2, "retry")
    assert [q["target"] for q in fake_relay.queries] == ["START"]


def test_a_viewer_sees_jobs_but_cannot_act(viewer, robot_task, make_job, calls):
    job = make_job(robot_task)

    page = viewer.get(JOBS_URL)
    assert page.status_code == 200 and robot_task.task_name in page.content.decode()
    assert "cancel_selected" not in page.content.decode()
    assert run_action(viewer, "cancel_selected", job).status_code == 403
    assert calls == []
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_the_list_shows_waited_and_ran_with_units_and_the_queue_position(operator, robot_task, make_task, make_job):
    now = timezone.now()
    make_job(robot_task, status=JobStatus.COMPLETED, created_at=now - timedelta(minutes=10),
             dispatched_at=now - timedelta(minutes=9), started_at=now - timedelta(minutes=9),
             finished_at=now - timedelta(minutes=6, seconds=30))  # fmt: skip
    other = make_task(account=robot_task.account, app_name="second_app")
    make_job(other, created_at=now - timedelta(seconds=5))

    body = operator.get(JOBS_URL).content.decode()

    assert "1m 0s" in body and "2m 30s" in body  # waited, ran of the completed job
    queue = operator.get(queue_url(robot_task.account_id)).content.decode()  # the queue's own columns
    assert '<td class="field-queue_position">1</td>' in queue


def test_a_robots_queue_lists_busy_first_then_queued_by_priority_and_age(operator, robot_task, make_task, make_job):
    account, now = robot_task.account, timezone.now()
    low = make_job(make_task(account=account, app_name="low_app"), priority="low", created_at=now - timedelta(minutes=5))
    high_new = make_job(make_task(account=account, app_name="high_new"), priority="high", created_at=now)
    high_old = make_job(make_task(account=account, app_name="high_old"), priority="high", created_at=now - timedelta(minutes=1))
    running = make_job(robot_task, status=JobStatus.RUNNING, created_at=now - timedelta(minutes=9), dispatched_at=now)
    make_job(make_task(account=account, app_name="old_app"), status=JobStatus.COMPLETED, finished_at=now)

    response = operator.get(queue_url(account.pk))

    listed = list(response.context["cl"].result_list)
    assert listed == [running, high_old, high_new, low]


def test_task_and_account_pages_show_recent_jobs_and_the_queue_link(operator, robot_task, make_job):
    make_job(robot_task, status=JobStatus.FAILED, reason=JobReason.RUN_TIMEOUT, finished_at=timezone.now())
    make_job(robot_task)

    task_page = operator.get(f"/admin/tasks/task/{robot_task.pk}/change/").content.decode()
    account_page = operator.get(f"/admin/accounts/account/{robot_task.account_id}/change/").content.decode()

    for page in (task_page, account_page):
        assert "recent jobs (latest 10)" in page.lower() and "run timeout" in page.lower()
    assert "0 running, 1 queued" in account_page
    assert queue_url(robot_task.account_id).replace("&", "&amp;") in account_page


def test_the_dashboard_card_shows_queued_running_and_the_longest_wait(admin_client, robot_task, make_task, make_job):
    now = timezone.now()
    make_job(robot_task, status=JobStatus.RUNNING, dispatched_at=now)
    make_job(make_task(account=robot_task.account, app_name="waits_long", task_name="Waits long"),
             created_at=now - timedelta(minutes=3))  # fmt: skip
    make_job(make_task(account=robot_task.account, app_name="waits_less"), created_at=now - timedelta(minutes=1))

    body = admin_client.get("/dashboard/").content.decode()

    assert 'data-stat="jobs-running">1<' in body and 'data-stat="jobs-queued">2<' in body
    assert "Waits long" in body and "3m " in body
