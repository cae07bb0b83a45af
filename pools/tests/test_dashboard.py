"""The dashboard's job queue card per pool (API.md §12): each pool's robots, running jobs, jobs
waiting for any of its robots and the oldest wait; the job waiting longest names its pool."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import JobStatus
from jobs.tests.conftest import build_job
from pools.models import Pool

pytestmark = pytest.mark.django_db


def test_the_job_queue_card_has_a_row_per_pool(root, make_account, make_task):
    robots = [make_account() for _ in range(3)]
    pool = Pool.objects.create(name="Card pool")
    pool.accounts.set(robots)
    task = make_task(robots[0], task_name="Pooled", pool=pool, max_parallel_jobs=3)
    build_job(task, JobStatus.RUNNING, any_robot=True, started_at=timezone.now())
    for minutes in (30, 5):
        build_job(task, any_robot=True, created_at=timezone.now() - timedelta(minutes=minutes))
    Pool.objects.create(name="Empty pool")  # no robots, no jobs: not listed

    page = root.get("/dashboard/").content.decode()
    row = re.search(rf'<tr data-pool="{pool.pk}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r'<td[^>]*>(.*?)</td>', row, re.S)
    assert "Card pool" in cells[0] and "3 机器人 robots" in cells[0]
    assert [cell.strip() for cell in cells[1:3]] == ["1", "2"]
    assert cells[3].strip().startswith("30")
    assert "Empty pool" not in page
    longest = re.search(r'data-stat="jobs-longest">(.*?)</p>', page, re.S).group(1)
    assert "pool Card pool" in longest and "Pooled" in longest
