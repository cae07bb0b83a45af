"""Issue 14 bug 2: a START through /resources/proxy/intranet for a known task is a job, so a
double-click sends one START and answers 409 (the old code sent two)."""

from __future__ import annotations

import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db

URL = "/api/v1/resources/proxy/intranet"


def test_a_double_click_sends_one_start(operator_client, make_account, make_task, fake_relay):
    task = make_task(make_account(host_ip="192.168.1.100", port=8000), app_name="daily_report")
    params = {"backend_ip": "192.168.1.100", "backend_port": "8000", "tak": "daily_report", "target": "START"}

    first = operator_client.get(URL, params)
    second = operator_client.get(URL, params)

    assert first.status_code == 200 and first.json()["success"] is True
    assert second.status_code == 409
    assert (second.json()["success"], second.json()["code"]) == (False, "START_PENDING")
    assert len(fake_relay.requests) == 1
    assert Job.objects.get(task=task).source == "intranet"


# -- pool tasks (API.md §12): the task runs on every robot of its pool, not only on its own ------
def pool_task(make_account, make_task):
    from pools.models import Pool

    own = make_account(host_ip="192.168.1.100", port=8000)
    member = make_account(host_ip="192.168.1.101", port=8000)
    pool = Pool.objects.create(name="Finance")
    pool.accounts.set([own, member])
    return make_task(own, app_name="daily_report", pool=pool, max_parallel_jobs=2), own, member


def control(client, host: str, target: str):
    return client.get(URL, {"backend_ip": host, "backend_port": "8000", "tak": "daily_report", "target": target})


def test_a_stop_at_a_pool_tasks_own_robot_stops_every_job_of_it(operator_client, make_account, make_task, fake_relay):
    from jobs import services
    from jobs.models import JobSource, JobStatus

    task, own, member = pool_task(make_account, make_task)
    services.start_on_every_robot(task=task, source=JobSource.API)

    answer = control(operator_client, "192.168.1.100", "ALL")

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["success"] is True and "stop requested for 2 jobs" in body["message"]
    assert {job["shadow_bot_account"] for job in body["jobs"]} == {own.shadow_bot_account, member.shadow_bot_account}
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.STOPPING}


def test_a_stop_at_another_robot_of_the_pool_stops_the_job_that_robot_runs(
    operator_client, make_account, make_task, fake_relay
):
    from jobs import services
    from jobs.models import JobSource, JobStatus

    task, own, member = pool_task(make_account, make_task)
    services.start_on_every_robot(task=task, source=JobSource.API)

    answer = control(operator_client, "192.168.1.101", "ALL")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["job_status"] == JobStatus.STOPPING
    statuses = dict(Job.objects.values_list("account_id", "status"))
    assert statuses == {member.pk: JobStatus.STOPPING, own.pk: JobStatus.DISPATCHED}
    assert [(q["backend_ip"], q["target"]) for q in fake_relay.queries][-1] == ("192.168.1.101", "ALL")


def test_a_start_at_another_robot_of_the_pool_starts_the_pool_task(operator_client, make_account, make_task, fake_relay):
    task, own, member = pool_task(make_account, make_task)

    answer = control(operator_client, "192.168.1.101", "START")

    assert answer.status_code == 200, answer.json()
    job = Job.objects.get()
    assert (job.task_id, job.source, job.pool_id) == (task.pk, "intranet", task.pool_id)
    assert answer.json()["job_id"] == str(job.pk)


def test_a_stop_at_a_robot_running_nothing_of_that_app_is_sent_raw(operator_client, make_account, make_task, fake_relay):
    pool_task(make_account, make_task)

    answer = control(operator_client, "192.168.1.101", "ALL")

    assert answer.status_code == 200 and answer.json()["url"]  # the relay request as given
    assert not Job.objects.exists()


def test_a_stop_at_a_host_with_two_robots_stops_the_job_of_the_robot_at_that_port(
    operator_client, make_account, make_task, fake_relay
):
    """Two accounts on one host, both in the pool and both running the app: the port says which."""
    from jobs import services
    from jobs.models import JobSource, JobStatus
    from pools.models import Pool

    own = make_account(host_ip="192.168.1.100", port=8000)
    first = make_account(host_ip="192.168.1.101", port=8000)
    second = make_account(host_ip="192.168.1.101", port=8001)
    pool = Pool.objects.create(name="Finance")
    pool.accounts.set([own, first, second])
    task = make_task(own, app_name="daily_report", pool=pool, max_parallel_jobs=3)
    services.start_on_every_robot(task=task, source=JobSource.API)  # the older jobs: own's, first's

    answer = operator_client.get(URL, {"backend_ip": "192.168.1.101", "backend_port": "8001",
                                       "tak": "daily_report", "target": "ALL"})

    assert answer.status_code == 200, answer.json()
    statuses = dict(Job.objects.values_list("account_id", "status"))
    assert statuses == {own.pk: JobStatus.DISPATCHED, first.pk: JobStatus.DISPATCHED, second.pk: JobStatus.STOPPING}
