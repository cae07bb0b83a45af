"""A page of jobs gets every queued job's queue_position from one query, whatever the number of
robots on the page (API.md §9; issue 18, "Lists are cheap")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import queue

pytestmark = pytest.mark.django_db


def test_positions_of_several_robots_in_one_query(make_account, make_task, make_job, django_assert_num_queries):
    now = timezone.now()
    jobs = []
    for _ in range(3):
        account = make_account()
        jobs += [
            make_job(make_task(account), priority="low", created_at=now - timedelta(minutes=9)),
            make_job(make_task(account), priority="high", created_at=now),
            make_job(make_task(account), status="running", created_at=now - timedelta(minutes=20)),
        ]
    with django_assert_num_queries(1):
        found = queue.positions(jobs)
    assert found == {job.pk: queue.position(job) for job in jobs if job.status == "queued"}
    assert sorted(found.values()) == [1, 1, 1, 2, 2, 2]


def test_no_queued_job_needs_no_query(make_account, make_task, make_job, django_assert_num_queries):
    running = make_job(make_task(make_account()), status="running")
    with django_assert_num_queries(0):
        assert queue.positions([running]) == {}
