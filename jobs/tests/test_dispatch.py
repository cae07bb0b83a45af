"""Dispatch through the backend interface: never inside a transaction (a crash between claim and
send: jobs/tests/test_command_outbox.py), a START that may have reached the robot is never sent twice, and
the next queued job goes out when a robot becomes free."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from jobs import backends, dispatcher, reports, services, timeouts, wakeup
from jobs.backends import BackendNotConfigured, InsideTransaction
from jobs.models import Job, JobSource, JobStatus
from rpa_workbench.errors import ApiError

pytestmark = pytest.mark.django_db


def test_a_backend_called_inside_a_transaction_fails_loudly(make_task, make_job, fake_relay):
    job = make_job(make_task(), JobStatus.DISPATCHED)
    relay_backend = backends.get_backend("relay")
    with transaction.atomic(), pytest.raises(InsideTransaction):
        backends.call(relay_backend, "start", job)
    with transaction.atomic(), pytest.raises(InsideTransaction):
        relay_backend.start(job)  # the backend itself checks too
    assert fake_relay.requests == []


def test_the_registry_maps_names_to_modules_and_unknown_ones_are_not_configured():
    assert backends.get_backend("relay").name == "relay"
    with pytest.raises(BackendNotConfigured) as caught:
        backends.get_backend("nope")
    assert caught.value.code == "BACKEND_NOT_CONFIGURED"
    assert backends.REGISTRY["yingdao"] == "yingdao.backend:backend"


def test_a_start_that_may_have_reached_the_robot_is_not_sent_again(make_task, fake_relay, settings):
    settings.RPA_RELAY_TIMEOUT = 0.3
    fake_relay.delay = 2
    task = make_task()
    with pytest.raises(ApiError) as caught:
        services.start_job(task=task, source=JobSource.API)
    assert caught.value.error_code == "CONTROL_REQUEST_FAILED"
    job = Job.objects.get(task=task)
    assert job.status == JobStatus.DISPATCHED  # kept: the robot may be starting it

    fake_relay.delay = 0
    for _ in range(3):
        dispatcher.run_once()
    with pytest.raises(ApiError) as again:
        services.start_job(task=task, source=JobSource.API)
    assert again.value.error_code == "START_PENDING"
    assert len(fake_relay.requests) == 1


def test_a_robot_becoming_free_dispatches_its_next_job(make_account, make_task, fake_relay):
    account = make_account(shadow_bot_account="bot_01")
    first, second = make_task(account, app_name="a1"), make_task(account, app_name="a2")
    services.start_job(task=first, source=JobSource.API)
    queued = services.start_job(task=second, source=JobSource.API).job
    reports.confirm(shadow_bot_account="bot_01", app_name="a1", action="START")
    reports.confirm(shadow_bot_account="bot_01", app_name="a1", action="STOP")  # robot free: kick

    summary = dispatcher.run_once()

    queued.refresh_from_db()
    assert summary.sent == [str(queued.pk)] and queued.status == JobStatus.DISPATCHED
    assert [q["tak"] for q in fake_relay.queries] == ["a1", "a2"]


def test_a_dispatch_failure_ends_the_job_and_the_response_is_502(make_task, fake_relay):
    fake_relay.status = 500
    task = make_task(max_retries=3)
    with pytest.raises(ApiError) as caught:
        services.start_job(task=task, source=JobSource.API)
    assert caught.value.status_code == 502
    job = Job.objects.get(task=task)
    assert (job.status, job.reason) == ("failed", "dispatch_failed")
    assert Job.objects.filter(task=task).count() == 1  # dispatch_failed is never retried
    [request] = job.control_requests.all()
    assert request.outcome == "failed" and request.response_status == 500


def test_an_unconfigured_backend_is_503_and_creates_no_job(make_account, make_task):
    task = make_task(make_account(dispatch_backend="relay"))
    with pytest.raises(ApiError) as caught:
        services.start_job(task=task, source=JobSource.API)
    assert (caught.value.status_code, caught.value.error_code) == (503, "RELAY_NOT_CONFIGURED")
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_kicked_passes_dispatch_at_once_and_sweep_the_timeouts_once_an_interval(monkeypatch, make_task, fake_relay, settings):
    """Each queued job kicks the loop, which sends it at once; the timeouts (a read of every
    queued and running job) are swept by the periodic pass only, not by every kick."""
    settings.RPA_DISPATCHER_THREADS = 0
    sweeps: list[object] = []
    real_sweep = timeouts.sweep
    monkeypatch.setattr(timeouts, "sweep", lambda **kwargs: sweeps.append(kwargs) or real_sweep(**kwargs))
    stop = threading.Event()

    def loop() -> None:
        try:
            dispatcher.run_forever(interval=60, stop=stop)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        for sent in range(1, 4):
            services.start_job(task=make_task(), source=JobSource.SCHEDULER, inline=False)  # queued: kicks
            assert fake_relay.wait_for_requests(sent, timeout=10) == sent
    finally:
        stop.set()
        wakeup.kick()
        thread.join(10)
    assert len(sweeps) == 1  # the first pass; the kicked ones within the 60 s interval did not
