"""A pool with a Yingdao robot group (API.md §12): a pool job is started with
`robotClientGroupUuid` and `executeScope: "any"` instead of one robot's `accountName`, and the
callback's `robotClientName` records which robot ran it. Against the fake Open API."""

from __future__ import annotations

import pytest

pytest.importorskip("jobs.transitions", reason="needs the jobs app")

from executionlogs.models import ExecutionLog  # noqa: E402
from jobs.models import Job  # noqa: E402
from pools.models import Pool  # noqa: E402
from yingdao.tests.helpers import deliver_in_process, start  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture
def group_pool(fake_yingdao, make_account, make_task):
    fake_yingdao.deliver = deliver_in_process
    robots = [
        make_account(shadow_bot_account=name, dispatch_backend="yingdao", yingdao_account_name=f"{name}@corp")
        for name in ("yd_a", "yd_b", "yd_c")
    ]
    pool = Pool.objects.create(name="Yingdao group", yingdao_group_uuid="grp-1")
    pool.accounts.set(robots)
    task = make_task(account=robots[0], app_name="export_orders", yingdao_robot_uuid="app-uuid-1", pool=pool)
    return pool, task, {robot.shadow_bot_account: robot for robot in robots}


def test_a_pool_job_is_a_group_start_and_the_callback_names_the_robot_that_ran_it(operator_client, fake_yingdao, group_pool):
    pool, task, robots = group_pool
    fake_yingdao.groups["grp-1"] = ["yd_c@corp"]  # Yingdao picks yd_c

    answer = start(operator_client, task)
    job = Job.objects.get(pk=answer["job_id"])
    assert job.status == "dispatched"
    [yd_job] = fake_yingdao.jobs.values()
    sent = yd_job.body
    assert (sent["robotClientGroupUuid"], sent["executeScope"]) == ("grp-1", "any")
    assert "accountName" not in sent and sent["idempotentUuid"] == str(job.pk)

    fake_yingdao.set_status(job.external_id, "running")
    assert fake_yingdao.flush() == [200]
    job.refresh_from_db()
    assert (job.status, job.account_id, job.shadow_bot_account) == ("running", robots["yd_c"].pk, "yd_c")

    fake_yingdao.set_status(job.external_id, "finish")
    assert fake_yingdao.flush() == [200]
    job.refresh_from_db()
    assert job.status == "completed"
    log = ExecutionLog.objects.get(pk=job.execution_log_id)
    assert (log.shadow_bot_account, log.account_id) == ("yd_c", robots["yd_c"].pk)
    robots["yd_c"].refresh_from_db()
    assert robots["yd_c"].status == "completed"


def test_a_callback_naming_no_member_changes_no_robot(operator_client, fake_yingdao, group_pool):
    pool, task, robots = group_pool
    fake_yingdao.groups["grp-1"] = ["stranger@corp"]
    job = Job.objects.get(pk=start(operator_client, task)["job_id"])
    picked = job.account_id
    fake_yingdao.set_status(job.external_id, "running")
    fake_yingdao.flush()
    job.refresh_from_db()
    assert (job.status, job.account_id) == ("running", picked)


def test_without_a_group_the_pool_job_goes_to_the_robot_the_claim_picked(operator_client, fake_yingdao, group_pool):
    pool, task, robots = group_pool
    Pool.objects.filter(pk=pool.pk).update(yingdao_group_uuid="")
    job = Job.objects.get(pk=start(operator_client, task)["job_id"])
    [yd_job] = fake_yingdao.jobs.values()
    assert yd_job.body["accountName"] == f"{job.shadow_bot_account}@corp"
    assert "robotClientGroupUuid" not in yd_job.body
