"""The pools API (API.md §12): CRUD, 409 POOL_EXISTS / POOL_IN_USE, members validated, the
task's own robot kept a member, task `pool_id` / `max_parallel_jobs`, and who may write."""

from __future__ import annotations

import pytest

from pools.models import Pool

pytestmark = pytest.mark.django_db

POOLS = "/api/v1/pools"


def test_create_read_update_delete_a_pool(operator_client, make_account):
    a, b = make_account(), make_account()
    answer = operator_client.post(POOLS, {"name": "Finance", "account_ids": [str(a.pk), str(b.pk)],
                                          "yingdao_group_uuid": "g-1"}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert set(body["account_ids"]) == {str(a.pk), str(b.pk)}
    assert body["yingdao_group_uuid"] == "g-1" and body["description"] == ""
    assert set(body) == {"id", "name", "description", "account_ids", "yingdao_group_uuid", "created_at", "updated_at"}
    changed = operator_client.put(f"{POOLS}/{body['id']}", {"description": "AP team"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["description"] == "AP team" and set(changed.json()["account_ids"]) == {str(a.pk), str(b.pk)}
    shrunk = operator_client.patch(f"{POOLS}/{body['id']}", {"account_ids": [str(b.pk)]}, format="json")
    assert shrunk.json()["account_ids"] == [str(b.pk)]
    listing = operator_client.get(POOLS).json()
    assert listing["total"] == 1 and listing["items"][0]["name"] == "Finance"
    gone = operator_client.delete(f"{POOLS}/{body['id']}")
    assert (gone.status_code, gone.json()["code"]) == (200, "DELETED")
    assert not Pool.objects.exists()


def test_a_robot_may_belong_to_several_pools(operator_client, make_account):
    robot = make_account()
    for name in ("One", "Two"):
        assert operator_client.post(POOLS, {"name": name, "account_ids": [str(robot.pk)]}, format="json").status_code == 201
    assert set(robot.pools.values_list("name", flat=True)) == {"One", "Two"}


def test_pool_names_are_unique(operator_client):
    assert operator_client.post(POOLS, {"name": "Finance"}, format="json").status_code == 201
    answer = operator_client.post(POOLS, {"name": "Finance"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "POOL_EXISTS")
    other = operator_client.post(POOLS, {"name": "Ops"}, format="json").json()
    answer = operator_client.patch(f"{POOLS}/{other['id']}", {"name": "Finance"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (409, "POOL_EXISTS")


def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(operator_client):
    answer = operator_client.post(POOLS, {"name": "X", "account_ids": ["0b7d3c1e-0000-4000-8000-000000000000"]}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR")
    assert answer.json()["message"].startswith("account_ids")
    answer = operator_client.post(POOLS, {"name": "  "}, format="json")
    assert answer.status_code == 400 and answer.json()["message"].startswith("name")
    answer = operator_client.post(POOLS, {"name": "Y", "account_ids": "nope"}, format="json")
    assert answer.status_code == 400
    assert not Pool.objects.exists()


def test_a_pool_in_use_is_not_deleted(operator_client, make_task):
    task = make_task()
    pool = operator_client.post(POOLS, {"name": "Finance"}, format="json").json()
    edited = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": pool["id"], "max_parallel_jobs": "3"}, format="json")
    assert edited.status_code == 200, edited.json()
    assert edited.json()["pool_id"] == pool["id"] and edited.json()["max_parallel_jobs"] == 3
    answer = operator_client.delete(f"{POOLS}/{pool['id']}")
    assert (answer.status_code, answer.json()["code"]) == (409, "POOL_IN_USE")
    assert Pool.objects.filter(pk=pool["id"]).exists()


def test_the_tasks_own_robot_joins_the_pool_and_stays_a_member(operator_client, make_task, make_account):
    task, other = make_task(), make_account()
    pool = operator_client.post(POOLS, {"name": "Finance", "account_ids": [str(other.pk)]}, format="json").json()
    operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": pool["id"]}, format="json")
    assert set(operator_client.get(f"{POOLS}/{pool['id']}").json()["account_ids"]) == {str(task.account_id), str(other.pk)}
    answer = operator_client.patch(f"{POOLS}/{pool['id']}", {"account_ids": [str(other.pk)]}, format="json")
    assert answer.status_code == 400 and task.task_name in answer.json()["message"]
    body = operator_client.get(f"/api/v1/tasks/{task.pk}").json()
    assert body["shadow_bot_account"] == task.account.shadow_bot_account  # the SPA still reads its robot
    # task_count counts only the tasks bound to a robot, not pool membership
    assert operator_client.get(f"/api/v1/accounts/{other.pk}").json()["task_count"] == 0


def test_task_pool_fields_are_validated(operator_client, make_task):
    task = make_task()
    answer = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"max_parallel_jobs": 51}, format="json")
    assert answer.status_code == 400 and answer.json()["message"].startswith("max_parallel_jobs")
    answer = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"pool_id": "0b7d3c1e-0000-4000-8000-000000000000"}, format="json")
    assert answer.status_code == 400 and answer.json()["message"].startswith("pool_id")
    body = operator_client.get(f"/api/v1/tasks/{task.pk}").json()
    assert body["pool_id"] is None and body["max_parallel_jobs"] == 1


def test_writes_need_the_operator_role(viewer_client, anon_client):
    assert viewer_client.get(POOLS).status_code == 200
    answer = viewer_client.post(POOLS, {"name": "X"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (403, "PERMISSION_DENIED")
    assert anon_client.get(POOLS).status_code == 401


def test_jobs_name_their_pool_and_filter_by_it(operator_client, make_task, make_account, fake_relay):
    from jobs import services
    from jobs.models import JobSource

    robot = make_account()
    pool = Pool.objects.create(name="Jobs pool")
    pool.accounts.set([robot])
    pooled = make_task(robot, pool=pool, max_parallel_jobs=2)
    job = services.start_job(task=pooled, source=JobSource.API).job
    services.start_job(task=make_task(make_account()), source=JobSource.API)
    listing = operator_client.get("/api/v1/jobs", {"pool_id": str(pool.pk)}).json()
    assert [item["id"] for item in listing["items"]] == [str(job.pk)]
    assert listing["items"][0]["pool_id"] == str(pool.pk)
    assert operator_client.get("/api/v1/jobs").json()["total"] == 2


def test_a_pool_with_jobs_waiting_for_its_robots_is_not_deleted(operator_client, make_task, make_account, fake_relay):
    """A safety net: a task's waiting jobs follow it out of the pool (jobs/rebinding.py), so only
    a job left behind some other way (written here directly) can still be waiting for it."""
    from jobs.tests.conftest import build_job

    robot = make_account()
    pool = Pool.objects.create(name="Busy pool")
    pool.accounts.set([robot])
    job = build_job(make_task(robot))
    type(job).objects.filter(pk=job.pk).update(pool=pool, any_robot=True)
    answer = operator_client.delete(f"{POOLS}/{pool.pk}")
    assert (answer.status_code, answer.json()["code"]) == (409, "POOL_IN_USE") and "waiting" in answer.json()["message"]
