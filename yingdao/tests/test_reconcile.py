"""Reconciliation: a Yingdao job whose callback is overdue is checked with job/query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

pytest.importorskip("jobs.transitions", reason="needs the jobs app")

from executionlogs.models import ExecutionLog  # noqa: E402
from jobs.models import Job  # noqa: E402
from tasks.models import ControlRequest  # noqa: E402
from yingdao import reconcile  # noqa: E402
from yingdao.client import client  # noqa: E402
from yingdao.tests.helpers import start  # noqa: E402

pytestmark = pytest.mark.django_db


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_lost_callbacks_are_reconciled_with_job_query(operator_client, yingdao_task, fake_yingdao, settings):
    settings.RPA_YINGDAO_RECONCILE_SECONDS = 120
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    fake_yingdao.callbacks_enabled = False  # every callback is lost
    fake_yingdao.set_status(job.external_id, "running")

    assert reconcile.reconcile(now=later(60)).checked == 0  # not overdue yet: no call
    assert fake_yingdao.calls("job/query") == []
    summary = reconcile.reconcile(now=later(121))
    assert summary.moved == [str(job.pk)]
    job.refresh_from_db()
    assert job.status == "running"

    outputs = [{"name": "total_items", "value": 5}]
    fake_yingdao.set_status(job.external_id, "finish", outputs=outputs)
    reconcile.reconcile(now=later(300))
    job.refresh_from_db()
    assert job.status == "completed"
    log = ExecutionLog.objects.get(pk=job.execution_log_id)
    assert log.result_summary == {"total_items": 5}
    assert len(fake_yingdao.calls("job/query")) == 2  # the query's answer had the details already


def test_yingdao_saying_still_running_keeps_the_lost_contact_watchdog_away(operator_client, yingdao_task, fake_yingdao):
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    fake_yingdao.set_status(job.external_id, "running")
    fake_yingdao.flush()
    yingdao_task.refresh_from_db()
    first_seen = yingdao_task.last_seen_at
    reconcile.reconcile(now=later(300))  # no heartbeat ever comes from a Yingdao robot
    yingdao_task.refresh_from_db()
    assert yingdao_task.last_seen_at > first_seen
    job.refresh_from_db()
    assert job.status == "running"


def test_nothing_new_at_yingdao_changes_nothing(operator_client, yingdao_task, fake_yingdao):
    job = Job.objects.get(pk=start(operator_client, yingdao_task)["job_id"])
    summary = reconcile.reconcile(now=later(3600))
    assert (summary.checked, summary.moved) == (1, [])
    job.refresh_from_db()
    assert job.status == "dispatched"


def test_a_start_whose_answer_was_lost_learns_its_job_uuid_without_a_second_run(yingdao_task, fake_yingdao, make_job_for):
    job = make_job_for(yingdao_task)
    sent = client().start_job({"robotUuid": "app-uuid-1", "idempotentUuid": str(job.pk)})  # ... answer never stored
    sent_start(job, outcome="failed")  # what the outbox recorded: no answer, it may have reached Yingdao
    fake_yingdao.set_status(sent.data["jobUuid"], "running", notify=False)
    reconcile.reconcile(now=later(3600))
    job.refresh_from_db()
    assert job.external_id == sent.data["jobUuid"]
    assert job.status == "running"
    assert len(fake_yingdao.jobs) == 1


def sent_start(job, *, outcome: str) -> ControlRequest:
    return ControlRequest.objects.create(job=job, task=job.task, action="start", target="START", source="api", outcome=outcome)


@pytest.mark.parametrize("status, start_outcome", [("dispatched", "queued"), ("dispatched", "pending"), ("stopping", "failed")])
def test_suspect_reconcile_never_sends_job_start_for_a_start_still_unsent_or_a_job_being_stopped(
    yingdao_task, fake_yingdao, make_job_for, status, start_outcome
):
    """Proven: a busy job without a jobUuid was sent job/start by reconciliation whatever its
    state, so a job whose START was still in the outbox, or that was being stopped, was started."""
    job = make_job_for(yingdao_task, status=status)
    sent_start(job, outcome=start_outcome)

    reconcile.reconcile(now=later(3600))

    assert len(fake_yingdao.jobs) == 0  # no job/start reached Yingdao
    job.refresh_from_db()
    assert job.status == status and not job.external_id


def test_the_pass_is_claimed_once_per_period(operator_client, yingdao_task, fake_yingdao, settings):
    settings.RPA_YINGDAO_RECONCILE_SECONDS = 120
    start(operator_client, yingdao_task)
    now = later(600)
    assert reconcile.run_due(now=now) is not None
    assert reconcile.run_due(now=now + timedelta(seconds=10)) is None  # another process, same period
    assert reconcile.run_due(now=now + timedelta(seconds=61)) is not None
