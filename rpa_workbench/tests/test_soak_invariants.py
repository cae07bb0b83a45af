"""The soak's checks (rpa_workbench/testing/invariants.py). "No START for an ended job": a START
already on the wire when a force stop ended its job is not one sent for an ended job; a START
the relay receives later than that is. "No STOP after the robot's next START unless asked": a
START is matched with the job dispatched before it, not its task's next one."""

from __future__ import annotations

from rpa_workbench.testing.fleet import Command
from rpa_workbench.testing.invariants import (
    IN_FLIGHT_GRACE,
    JobRow,
    OperatorStop,
    starts_for_ended_jobs,
    stops_after_next_start,
)


def force_stopped_job(*, dispatched_at: float, finished_at: float) -> JobRow:
    return JobRow(
        id="00bdd288", robot="soak_bot_18", app_name="soak_app_2", status="stopped", reason="force_stopped",
        source="api", created_at=dispatched_at - 1, dispatched_at=dispatched_at, started_at=None, finished_at=finished_at,
    )


def start_at(at: float) -> Command:
    return Command(at=at, robot="soak_bot_18", host_ip="10.0.0.18", port=8000, app_name="soak_app_2", target="START")


def test_a_start_on_the_wire_when_its_job_was_force_stopped_is_in_flight_not_a_violation():
    job = force_stopped_job(dispatched_at=100.0, finished_at=100.5)
    assert starts_for_ended_jobs([start_at(100.5 + IN_FLIGHT_GRACE / 2)], [job]).count == 0


def test_a_start_received_well_after_its_job_ended_is_counted():
    job = force_stopped_job(dispatched_at=100.0, finished_at=100.5)
    check = starts_for_ended_jobs([start_at(100.5 + IN_FLIGHT_GRACE + 0.5)], [job])
    assert check.count == 1 and "after the end of" in check.examples[0]


def test_a_start_with_no_job_dispatched_before_it_is_counted():
    assert starts_for_ended_jobs([start_at(50.0)], [force_stopped_job(dispatched_at=100.0, finished_at=101.0)]).count == 1


def test_pool_jobs_beyond_max_parallel_or_twice_on_one_robot_are_counted():
    from rpa_workbench.testing.invariants import JobRow, parallel_overlaps

    def row(robot, begin, end, task="t1"):
        return JobRow(f"{robot}{begin}", robot, "app", "completed", None, "api", begin, begin, begin, end, task)

    fine = [row("a", 0, 10), row("b", 1, 10), row("a", 11, 12)]
    assert parallel_overlaps(fine, {"t1": 2}, now=100).count == 0
    too_many = [row("a", 0, 10), row("b", 1, 10), row("c", 2, 10)]
    assert parallel_overlaps(too_many, {"t1": 2}, now=100).count == 1
    same_robot = [row("a", 0, 10), row("a", 5, 12)]
    assert parallel_overlaps(same_robot, {"t1": 5}, now=100).count == 1
    assert parallel_overlaps(too_many, {}, now=100).checked == 0  # not a pool task


def test_a_stop_asked_for_a_job_whose_start_was_on_the_wire_is_not_counted_when_its_task_starts_again():
    """CI, seed 488862: an operator stopped job A while its START was on the wire; the STOP
    followed the START; the task's next job B was dispatched 0.3 s after A's START. The STOP was
    asked for A, the job that START started (not B, dispatched after it)."""
    a = JobRow(id="a", robot="soak_bot_07", app_name="soak_app_1", status="stopped", reason=None, source="api",
               created_at=99.0, dispatched_at=99.9, started_at=100.1, finished_at=100.2)
    b = JobRow(id="b", robot="soak_bot_07", app_name="soak_app_1", status="completed", reason=None, source="api",
               created_at=100.25, dispatched_at=100.3, started_at=100.5, finished_at=110.0)
    start = Command(at=100.0, robot="soak_bot_07", host_ip="10.77.0.8", port=8000, app_name="soak_app_1",
                    target="START", started_run=True)
    stop = Command(at=100.05, robot="soak_bot_07", host_ip="10.77.0.8", port=8000, app_name="soak_app_1",
                   target="ALL", stopped_run="soak_app_1")
    asked = OperatorStop(at=99.95, robot="soak_bot_07", job_id="a")  # before the START arrived

    assert stops_after_next_start([start, stop], [a, b], [asked]).count == 0
    # asked for no job of that START (another robot's, or none): counted
    assert stops_after_next_start([start, stop], [a, b], [OperatorStop(at=99.95, robot="soak_bot_07", job_id="x")]).count == 1
