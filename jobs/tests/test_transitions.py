"""Every job transition, and every refused one, driven from the one table (jobs.models.TRANSITIONS):
each is a compare-and-set, moves the task's and account's derived status in the same transaction
and records `job_updated`."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import transitions
from jobs.models import BUSY, TASK_RUNNING, TRANSITIONS, Job, JobStatus

pytestmark = pytest.mark.django_db

PAIRS = list(itertools.product(JobStatus.values, JobStatus.values))
ALLOWED = [(old, new) for old, new in PAIRS if new in TRANSITIONS[old]]
REFUSED = [(old, new) for old, new in PAIRS if new not in TRANSITIONS[old]]


def test_the_table_names_every_status_and_final_statuses_go_nowhere():
    assert set(TRANSITIONS) == set(JobStatus.values)
    for final in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELLED):
        assert TRANSITIONS[final] == frozenset()


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_an_allowed_transition_moves_the_job_and_the_task_with_it(
    old, new, make_task, make_job, published_events, django_capture_on_commit_callbacks
):
    task = make_task()
    job = make_job(task, old, started_at=timezone.now() if old in TASK_RUNNING else None)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        moved = transitions.move(job, new, now=timezone.now(), expected=[old])

    assert (moved.old, moved.new) == (old, new)
    job.refresh_from_db()
    task.refresh_from_db()
    assert job.status == new
    assert task.status == ("running" if new in TASK_RUNNING else "pending")
    assert (task.start_requested_at is not None) == (new == JobStatus.DISPATCHED)
    if new not in BUSY and new != JobStatus.QUEUED:
        assert job.finished_at is not None
    job_events = [data for kind, data in published_events if kind == "job_updated"]
    assert job_events[-1]["status"] == new and job_events[-1]["changes"]["status"] == new
    assert set(job_events[-1]) == {"job_id", "task_id", "account_id", "shadow_bot_account", "app_name", "status", "changes"}


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_a_transition_not_in_the_table_is_refused(old, new, make_task, make_job):
    job = make_job(make_task(), old)
    with transaction.atomic(), pytest.raises(ValueError, match="TRANSITIONS"):
        transitions.move(job, new, now=timezone.now(), expected=[old])
    assert Job.objects.get(pk=job.pk).status == old


def test_a_compare_and_set_loses_when_the_job_moved_meanwhile(make_task, make_job):
    task = make_task()
    job = make_job(task, JobStatus.QUEUED)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)  # another process won
    with transaction.atomic():
        assert transitions.dispatch(job, now=timezone.now()) is None
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED


def test_transitions_refuse_to_run_outside_a_transaction(make_task, make_job):
    job = make_job(make_task(), JobStatus.QUEUED)
    with pytest.raises(RuntimeError, match="transaction"):
        transitions.move(job, JobStatus.CANCELLED, now=timezone.now())


def test_hooks_see_old_and_new_status_inside_the_transaction(make_task, make_job):
    job = make_job(make_task(status="running"), JobStatus.RUNNING, started_at=timezone.now())
    seen = []
    transitions.HOOKS.append(lambda t: seen.append((t.old, t.new, t.task_status, transaction.get_connection().in_atomic_block)))
    try:
        with transaction.atomic():
            transitions.stopped(job, now=timezone.now())
    finally:
        transitions.HOOKS.pop()
    assert seen == [("running", "stopped", ("running", "pending"), True)]
