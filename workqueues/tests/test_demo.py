"""The demo (issue 27): the simulator's robot works the demo queue — the trigger starts its task,
the robot takes items until none is left, about one in ten fails (business final, application
retried) — against a real server with its embedded dispatcher and queue worker."""

from __future__ import annotations

import pytest
from django.core.management import call_command

import conftest
from jobs.models import Job
from rpa_workbench.testing.live_server import free_port
from rpa_workbench.testing.simulator import start_simulator, stop_simulator
from rpa_workbench.testing.waiting import wait_for
from tasks.simulator_queues import QueueWork
from workqueues.management.commands.seed_demo_queue import QUEUE, stamped
from workqueues.models import OPEN, ItemStatus, QueueItem, WorkQueue


def test_references_are_stamped_per_seed():
    assert stamped(b"reference,priority\nORD-1,high\n", "0307") == b"reference,priority\nORD-1-0307,high\n"


def test_about_one_in_ten_results_fail_both_kinds():
    work = QueueWork(callback="http://127.0.0.1:9", token="t", seed=7)
    outcomes = [work.outcome() for _ in range(2000)]
    failed = [outcome for outcome in outcomes if outcome["status"] == "failed"]
    assert 150 < len(failed) < 250
    assert {outcome["error_type"] for outcome in failed} == {"business", "application"}


@pytest.mark.live
def test_the_simulated_robot_drains_the_demo_queue(live_server_factory, tmp_path):
    call_command("seed_demo_queue")
    queue = WorkQueue.objects.get(name=QUEUE)
    WorkQueue.objects.filter(pk=queue.pk).update(retry_delay_seconds=1)
    QueueItem.objects.filter(queue=queue).exclude(pk__in=list(QueueItem.objects.filter(queue=queue).order_by("created_at", "reference")
                                                              .values_list("pk", flat=True)[:30])).delete()
    sim_port = free_port()
    server = live_server_factory(env={
        "RPA_RELAY_URL": f"http://127.0.0.1:{sim_port}/yingdao", "RPA_EMBEDDED_DISPATCHER": "true",
        "RPA_DISPATCHER_INTERVAL": "0.3", "RPA_EMBEDDED_WORKQUEUES": "true", "RPA_WORKQUEUE_INTERVAL": "0.3",
    })
    process, log = start_simulator(tmp_path, sim_port, server.url, conftest.WEBHOOK_TOKEN, "--seed", "3", "--failure-rate", "0")
    try:
        wait_for(lambda: not QueueItem.objects.filter(queue=queue, status__in=OPEN).exists(), timeout=90, what="the queue to drain")
    finally:
        stop_simulator(process, log)
    assert QueueItem.objects.filter(queue=queue, status=ItemStatus.SUCCESSFUL).count() >= 20
    assert Job.objects.filter(task=queue.task, source="queue").exists()
    ended = QueueItem.objects.filter(queue=queue).exclude(status=ItemStatus.SUCCESSFUL)
    for item in ended.filter(status=ItemStatus.FAILED, error_type="application", retry_number__lt=2):
        assert QueueItem.objects.filter(retry_of=item).exists()  # retried
