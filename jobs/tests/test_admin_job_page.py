"""A job's admin page: Stop / Cancel / Retry buttons that run the list actions themselves (the
same permission, workflow, audit and messages), only the ones that apply to the job as it is,
none for a viewer; the status as a coloured badge."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from jobs.models import Job, JobReason, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(make_task, make_account):
    return make_task(account=make_account(shadow_bot_account="nc_bot", host_ip="10.1.0.9"), task_name="nc_second")


def page(client, job: Job) -> str:
    response = client.get(f"/admin/jobs/job/{job.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def press(client, job: Job, button: str):
    return client.post(f"/admin/jobs/job/{job.pk}/control/{button}/")


def test_each_job_shows_only_the_buttons_that_apply(operator, task, make_job):
    queued = make_job(task, status=JobStatus.QUEUED)
    html = page(operator, queued)
    assert f"/admin/jobs/job/{queued.pk}/control/cancel/" in html
    assert "/control/stop/" not in html and "/control/retry/" not in html
    assert '<span class="badge badge-queued">Queued</span>' in html
    queued.delete()
    failed = make_job(task, status=JobStatus.FAILED, reason=JobReason.LOST_CONTACT, finished_at=timezone.now())
    html = page(operator, failed)
    assert f"/admin/jobs/job/{failed.pk}/control/retry/" in html and "/control/cancel/" not in html


def test_cancel_on_the_page_goes_through_the_list_action_with_its_message(operator, task, make_job, calls):
    job = make_job(task, status=JobStatus.QUEUED)

    response = press(operator, job, "cancel")

    assert response.status_code == 302 and response["Location"].endswith(f"/admin/jobs/job/{job.pk}/change/")
    assert calls == ["cancel_job"]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("nc_second (nc_bot, ") and message.endswith("cancelled (Cancelled)")


def test_retry_on_the_page_creates_the_next_attempt(operator, task, make_job, calls):
    job = make_job(task, status=JobStatus.FAILED, reason=JobReason.LOST_CONTACT, finished_at=timezone.now())

    press(operator, job, "retry")

    assert calls == ["retry_job"]
    retry = Job.objects.exclude(pk=job.pk).get()
    assert (retry.retry_of_id, retry.attempt) == (job.pk, 2)


def test_a_refusal_on_the_page_is_translated_and_names_the_status(operator, task, make_job, calls):
    job = make_job(task, status=JobStatus.RUNNING, started_at=timezone.now(), dispatched_at=timezone.now())

    response = operator.post(f"/admin/jobs/job/{job.pk}/control/cancel/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "被拒绝：作业状态为「运行中」，不在排队" in message  # not "refused: job … is running, not queued"
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_a_viewer_sees_no_button_and_a_forged_press_is_refused(viewer, task, make_job, calls):
    job = make_job(task, status=JobStatus.QUEUED)
    assert "/control/cancel/" not in page(viewer, job)

    assert press(viewer, job, "cancel").status_code == 403
    assert calls == []
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
