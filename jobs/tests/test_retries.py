"""Retries exactly as API.md §9 says: a failed job (robot failure/timeout, run_timeout,
never_confirmed, lost_contact) is followed by a queued one while attempt ≤ max_retries, with
not_before = end + retry_delay_seconds; dispatch_failed never."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from jobs import queue, transitions
from jobs.models import Job, JobReason, JobStatus

pytestmark = pytest.mark.django_db


def fail(job, reason, now):
    with transaction.atomic():
        return transitions.fail(job, now=now, reason=reason, expected=[job.status])


@pytest.mark.parametrize("reason", sorted(
    [JobReason.ROBOT_REPORTED_FAILURE, JobReason.ROBOT_REPORTED_TIMEOUT, JobReason.RUN_TIMEOUT,
     JobReason.NEVER_CONFIRMED, JobReason.LOST_CONTACT]))
def test_a_failed_job_is_retried_until_its_attempts_are_used(reason, make_task, make_job, clock):
    task = make_task(max_retries=2, retry_delay_seconds=30, status="running")
    job = make_job(task, JobStatus.RUNNING, started_at=clock.now)
    for attempt in (2, 3):
        fail(job, reason, clock.now)
        retry = Job.objects.get(retry_of=job)
        assert (retry.status, retry.attempt, retry.source) == ("queued", attempt, "retry")
        assert retry.not_before == clock.now + timedelta(seconds=30)
        assert queue.claim(task.account_id, now=clock.advance(seconds=29)) == []
        assert [j.pk for j in queue.claim(task.account_id, now=clock.advance(seconds=2))] == [retry.pk]
        Job.objects.filter(pk=retry.pk).update(status=JobStatus.RUNNING, started_at=clock.now)
        job = Job.objects.get(pk=retry.pk)
    fail(job, reason, clock.now)
    assert not Job.objects.filter(retry_of=job).exists()  # attempt 3 > max_retries 2


def test_dispatch_failed_is_never_retried(make_task, make_job, clock):
    task = make_task(max_retries=5)
    job = make_job(task, JobStatus.DISPATCHED, dispatched_at=clock.now)
    with transaction.atomic():
        transitions.fail_dispatch(job, now=clock.now, message="relay answered HTTP 500")
    assert Job.objects.filter(task=task).count() == 1


def test_no_retries_by_default(make_task, make_job, clock):
    job = make_job(make_task(), JobStatus.RUNNING, started_at=clock.now)
    fail(job, JobReason.LOST_CONTACT, clock.now)
    assert Job.objects.count() == 1
