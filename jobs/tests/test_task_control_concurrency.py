"""Concurrent control of one task on a real database (separate connections per thread): the start
is claimed atomically before the relay is called, so simultaneous starts send one request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from accounts.models import AccountStatus
from jobs import dispatcher, reports, task_control
from rpa_workbench.errors import ApiError
from rpa_workbench.testing.threads import run_together
from rpa_workbench.testing.waiting import wait_for
from tasks.models import ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls: list[Callable[[], object]]) -> list[str]:
    """Run the calls in threads released together; returns each one's outcome ("ok" or the error code)."""

    def outcome_of(call: Callable[[], object]) -> Callable[[], str]:
        def run() -> str:
            try:
                call()
            except ApiError as exc:
                return exc.error_code
            except Exception as exc:  # surfaced in the assertion instead of dying silently in a thread
                return f"{type(exc).__name__}: {exc}"
            return "ok"

        return run

    return run_together([outcome_of(call) for call in calls])


# One race interleaves badly only sometimes; several rounds make a lost claim show up reliably.
ROUNDS = 8


def starter(task_id, source: str = ControlSource.API) -> Callable[[], object]:
    """A start as a request handler does it: the task read on its own connection."""
    return lambda: task_control.start_task(task=Task.objects.get(pk=task_id), source=source)


def test_two_simultaneous_starts_send_one_relay_request(make_account, make_task, fake_relay):
    fake_relay.delay = 0.1  # the first start is still talking to the relay when the second arrives
    for _ in range(ROUNDS):
        task = make_task(make_account(), app_name="daily_report")
        before = len(fake_relay.requests)

        outcomes = race([starter(task.pk)] * 2)

        assert sorted(outcomes) == ["START_PENDING", "ok"]
        assert len(fake_relay.requests) - before == 1
        rows = Counter(ControlRequest.objects.filter(task=task).values_list("outcome", flat=True))
        assert rows == {ControlOutcome.SENT: 1, ControlOutcome.SKIPPED: 1}
        assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING


def test_many_simultaneous_starts_from_every_source_send_one_request(make_account, make_task, fake_relay):
    fake_relay.delay = 0.1
    sources = [ControlSource.API, ControlSource.ADMIN, ControlSource.SCHEDULER, ControlSource.INTRANET] * 2
    for _ in range(ROUNDS // 2):
        task = make_task(make_account(), app_name="daily_report")
        before = len(fake_relay.requests)

        outcomes = race([starter(task.pk, source) for source in sources])

        assert Counter(outcomes) == {"ok": 1, "START_PENDING": len(sources) - 1}
        # The winner sent its START inline, or (every inline slot taken by the other starts,
        # RPA_INLINE_STARTS) left its job queued: the dispatcher's pass sends it, as the
        # embedded dispatcher does in a server. Either way, one START reaches the robot.
        dispatcher.run_once(wait_for_sends=True)
        wait_for(
            lambda task=task: ControlRequest.objects.filter(task=task, outcome=ControlOutcome.SENT).exists(),
            timeout=10, what="the one START sent",
        )
        assert len(fake_relay.requests) - before == 1
        assert ControlRequest.objects.filter(task=task, outcome=ControlOutcome.SENT).count() == 1


def test_a_failed_start_racing_another_lets_a_later_start_through(make_account, make_task, fake_relay):
    task = make_task(make_account(), app_name="daily_report")
    fake_relay.delay = 0.2
    fake_relay.status = 500

    outcomes = race([starter(task.pk)] * 2)

    assert sorted(outcomes) == ["CONTROL_REQUEST_FAILED", "START_PENDING"]
    assert len(fake_relay.requests) == 1
    fake_relay.status, fake_relay.delay = 200, 0
    task_control.start_task(task=task, source=ControlSource.API)
    assert len(fake_relay.requests) == 2


def test_force_stop_racing_a_robot_confirmation_leaves_a_consistent_pair(make_account, make_task, fake_relay):
    account = make_account(shadow_bot_account="bot_race", status=AccountStatus.RUNNING)
    task = make_task(account, app_name="daily_report", status=TaskStatus.RUNNING)

    outcomes = race(
        [
            lambda: task_control.force_stop_task(task=Task.objects.get(pk=task.pk), source=ControlSource.API),
            lambda: reports.confirm(shadow_bot_account="bot_race", app_name="daily_report", action="START"),
        ]
    )

    assert outcomes == ["ok", "ok"]
    current = Task.objects.select_related("account").get(pk=task.pk)
    # Whichever committed last decided; task and account always agree.
    assert (current.status, current.account.status) in {("pending", "pending"), ("running", "running")}
