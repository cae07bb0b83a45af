"""Pools under real concurrency (API.md §12): PostgreSQL, two Daphne processes with their embedded
dispatchers claiming from the same pools, simulated robots behind a recording relay
(rpa_workbench/testing/fleet.py). Two dispatchers never claim one job twice, a task never runs
more than max_parallel_jobs jobs nor two on one robot, no robot more than its slots, and every
report lands on the job of the robot that sent it (all of rpa_workbench/testing/invariants.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from jobs.models import Job
from jobs.tests.test_concurrency_pg import (
    system_of,  # noqa: F401 — the fixture
    together,
)
from pools.models import Pool
from rpa_workbench.testing.fleet import FleetBehaviour

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency of PostgreSQL writers (SQLite serialises them)"),
]


def test_two_servers_dispatch_pool_jobs_once_each(system_of, make_account, make_task):  # noqa: F811
    robots = [make_account(host_ip=f"10.26.1.{n + 1}", port=8000, shadow_bot_account=f"pool_pg_{n}") for n in range(5)]
    pool = Pool.objects.create(name="Concurrency")
    pool.accounts.set(robots)
    tasks = [
        make_task(account=robots[0], app_name="pool_app_a", pool=pool, max_parallel_jobs=2),
        make_task(account=robots[1], app_name="pool_app_b", pool=pool, max_parallel_jobs=3),
    ]
    quick = FleetBehaviour(run_seconds=(0.3, 0.8), heartbeat_seconds=0.2, confirm_delay=(0.01, 0.1), failure_rate=0,
                           duplicate_rate=0.3, late_rate=0, report_after_stop_rate=0, heartbeat_with_report_rate=1.0)
    system = system_of(2, quick, *robots)
    answers = together(*(lambda n=n: system.start(tasks[n % 2], server=n) for n in range(20)))
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    assert Job.objects.filter(pool=pool).count() == 20
    system.quiet(timeout=120)
    assert Job.objects.filter(status="completed").count() == 20
    assert Job.objects.filter(source="robot").count() == 0  # every report found its job
    used = set(Job.objects.values_list("shadow_bot_account", flat=True))
    assert len(used) >= 4, used  # the work spread over the pool
    system.assert_invariants()
