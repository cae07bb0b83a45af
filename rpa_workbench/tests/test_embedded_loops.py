"""The background loops' one shape (`embedded.repeat`, issue 28): a pass, fresh database
connections around it, a failing pass logged and retried, a sleep, until asked to stop."""

from __future__ import annotations

import logging
import threading

import pytest

from rpa_workbench import embedded


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """These loops touch no database: the connection clean-up is a no-op here (a connection
    left open by an earlier test in the same worker would otherwise be checked, and refused)."""
    monkeypatch.setattr(embedded, "close_old_connections", lambda: None)


def test_passes_run_until_stop_is_set_and_a_failing_pass_does_not_end_the_loop(caplog):
    stop = threading.Event()
    passes: list[int] = []

    def run_pass() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("boom")
        if len(passes) == 3:
            stop.set()

    with caplog.at_level(logging.INFO, logger="rpa_workbench.embedded"):
        embedded.repeat(run_pass, name="test loop", interval=0, stop=stop)
    assert passes == [0, 1, 2]
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "test loop running (every 0s)" and messages[-1] == "test loop stopped"
    [failure] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert failure.getMessage() == "test loop pass failed" and failure.exc_info[0] is RuntimeError


def test_a_loop_set_to_stop_runs_no_pass():
    stop = threading.Event()
    stop.set()
    embedded.repeat(lambda: pytest.fail("a pass ran"), name="test loop", interval=60, stop=stop)


def test_the_sleep_is_the_loops_own_wait_when_it_has_one():
    stop = threading.Event()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            stop.set()

    embedded.repeat(lambda: None, name="test loop", interval=7, stop=stop, sleep=sleep)
    assert waits == [7, 7]


def test_every_pass_starts_and_ends_with_fresh_database_connections(monkeypatch):
    stop = threading.Event()
    calls: list[str] = []
    monkeypatch.setattr(embedded, "close_old_connections", lambda: calls.append("close"))

    def run_pass() -> None:
        calls.append("pass")
        stop.set()

    embedded.repeat(run_pass, name="test loop", interval=0, stop=stop)
    assert calls == ["close", "pass", "close"]
