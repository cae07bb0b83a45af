"""Pools in the admin (API.md §12): pools with their robots and presence, a pool's queue (the
Jobs list filtered by pool, busy first, then its waiting jobs with their pool position), the
Jobs list's pool filter, the own-robot rule on edits, and the task page's pool fields."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.tests.conftest import build_job
from pools.admin import pool_queue_url
from pools.models import Pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool_with_jobs(make_account, make_task):
    seen = make_account(shadow_bot_account="seen_bot", last_seen_at=timezone.now())
    quiet = make_account(shadow_bot_account="quiet_bot")
    pool = Pool.objects.create(name="Finance pool")
    pool.accounts.set([seen, quiet])
    task = make_task(seen, task_name="Pool export", pool=pool, max_parallel_jobs=3)
    running = build_job(task, JobStatus.RUNNING, started_at=timezone.now(), any_robot=True)
    waiting = [build_job(task, any_robot=True) for _ in range(2)]
    other = build_job(make_task(make_account(), task_name="Elsewhere"))
    return pool, running, waiting, other


def test_the_pool_list_shows_robots_presence_and_jobs(root, pool_with_jobs):
    pool, *_ = pool_with_jobs
    page = root.get("/admin/pools/pool/").content.decode()
    assert "Finance pool" in page
    assert pool_queue_url(pool.pk).replace("&", "&amp;") in page
    assert "Busy" in page and "Unknown" in page  # one robot runs a job, one never heard from


def test_a_pools_page_lists_its_robots_and_links_its_queue(root, pool_with_jobs):
    pool, *_ = pool_with_jobs
    page = root.get(f"/admin/pools/pool/{pool.pk}/change/").content.decode()
    assert "seen_bot" in page and "quiet_bot" in page
    assert "1 running, 2 queued — open the queue" in page


def test_a_pools_queue_is_the_jobs_list_filtered_by_the_pool(root, pool_with_jobs):
    pool, running, waiting, other = pool_with_jobs
    page = root.get(pool_queue_url(pool.pk)).content.decode()
    assert str(other.pk)[:8] not in page
    for job in (running, *waiting):
        assert str(job.pk)[:8] in page
    assert page.index(str(running.pk)[:8]) < page.index(str(waiting[0].pk)[:8]) < page.index(str(waiting[1].pk)[:8])
    assert "any robot" in page and "pool Finance pool" in page


def test_the_own_robot_of_a_pool_task_cannot_be_removed_in_the_admin(root, pool_with_jobs):
    pool, running, *_ = pool_with_jobs
    quiet = pool.accounts.get(shadow_bot_account="quiet_bot")
    answer = root.post(f"/admin/pools/pool/{pool.pk}/change/", {"name": pool.name, "description": "", "accounts": [str(quiet.pk)],
                                                                 "yingdao_group_uuid": ""})
    assert answer.status_code == 200 and "Pool export" in answer.content.decode()  # the form, with the error
    assert pool.accounts.count() == 2


def test_a_pool_in_use_is_not_deleted_from_the_admin(root, pool_with_jobs):
    pool, *_ = pool_with_jobs
    root.post(f"/admin/pools/pool/{pool.pk}/delete/", {"post": "yes"})
    assert Pool.objects.filter(pk=pool.pk).exists()


def test_the_task_page_edits_the_pool_fields(root, pool_with_jobs):
    pool, running, *_ = pool_with_jobs
    page = root.get(f"/admin/tasks/task/{running.task_id}/change/").content.decode()
    assert 'name="max_parallel_jobs"' in page and 'name="pool"' in page


def test_pool_pages_in_chinese(root, pool_with_jobs):
    pool, *_ = pool_with_jobs
    root.cookies["django_language"] = "zh-hans"
    page = root.get(f"/admin/pools/pool/{pool.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "机器人与队列" in page
    assert Job.objects.count() == 4


def test_a_robots_queue_leaves_out_the_jobs_waiting_for_any_robot_of_its_pool(root, pool_with_jobs):
    from jobs.admin import queue_url

    pool, running, waiting, other = pool_with_jobs
    page = root.get(queue_url(running.account_id)).content.decode()
    assert str(running.pk)[:8] in page  # it runs there
    assert all(str(job.pk)[:8] not in page for job in waiting)  # they wait on the pool, not on this robot


def test_the_own_robot_refusal_reads_in_chinese(root, pool_with_jobs):
    pool, *_ = pool_with_jobs
    quiet = pool.accounts.get(shadow_bot_account="quiet_bot")
    answer = root.post(f"/admin/pools/pool/{pool.pk}/change/", {"name": pool.name, "description": "", "accounts": [str(quiet.pk)],
                                                                 "yingdao_group_uuid": ""}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "必须保留为成员" in answer.content.decode()


@pytest.mark.parametrize("action", ["stop_selected", "force_stop_selected"])
def test_stopping_a_pool_task_from_the_admin_acts_on_each_of_its_jobs(root, make_account, make_task, fake_relay, action):
    from django.contrib.messages import get_messages

    from jobs import task_control

    robots = [make_account() for _ in range(2)]
    pool = Pool.objects.create(name="Admin stop pool")
    pool.accounts.set(robots)
    task = make_task(robots[0], pool=pool, max_parallel_jobs=2)
    task_control.start_task(task=task, source="api", scope="all")
    answer = root.post("/admin/tasks/task/", {"action": action, "index": "0", "_selected_action": [str(task.pk)]})
    assert answer.status_code == 302
    texts = [str(m) for m in get_messages(answer.wsgi_request)]
    assert any("2 jobs of the pool task" in text for text in texts), texts
    assert not Job.objects.filter(task=task, status__in=("dispatched", "running")).exists()
