"""The SQLite backend queues the write transactions of one process on a lock
(`rpa_workbench/sqlite/base.py`) instead of leaving them to SQLite's busy handler."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from accounts.models import Account
from rpa_workbench.sqlite.base import writer_lock
from rpa_workbench.testing.threads import run_together

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the writer queue is part of the SQLite backend"),
    pytest.mark.django_db(transaction=True),
]


def lock():
    return writer_lock(connection.settings_dict["NAME"])


def test_a_transaction_holds_the_lock_until_it_commits():
    with transaction.atomic():
        Account.objects.create(shadow_bot_account="a", host_ip="10.0.0.1", port=8000)
        assert lock().locked()
    assert not lock().locked()
    assert Account.objects.count() == 1


def test_a_rolled_back_transaction_releases_the_lock():
    with pytest.raises(RuntimeError), transaction.atomic():
        Account.objects.create(shadow_bot_account="a", host_ip="10.0.0.1", port=8000)
        raise RuntimeError
    assert not lock().locked()
    assert Account.objects.count() == 0


def test_closing_a_connection_mid_transaction_releases_the_lock():
    def abandon() -> None:
        transaction.atomic().__enter__()  # never left: the connection goes away inside it
        Account.objects.create(shadow_bot_account="a", host_ip="10.0.0.1", port=8000)
        assert lock().locked()
        connection.close()

    thread = threading.Thread(target=abandon)
    thread.start()
    thread.join(timeout=10)
    assert not lock().locked()
    assert Account.objects.count() == 0


def test_writers_of_one_process_take_turns_in_full_transactions():
    """Each thread's transaction runs from BEGIN to COMMIT without another one in between."""
    spans: list[tuple[float, float]] = []

    def write(n: int) -> None:
        for k in range(5):
            with transaction.atomic():
                began = time.monotonic()
                Account.objects.create(shadow_bot_account=f"bot{n}-{k}", host_ip="10.0.0.1", port=8000)
                time.sleep(0.002)
                Account.objects.filter(shadow_bot_account=f"bot{n}-{k}").update(port=9000)
                spans.append((began, time.monotonic()))

    run_together([lambda n=n: write(n) for n in range(6)])
    assert Account.objects.filter(port=9000).count() == 30
    spans.sort()
    assert all(end <= next_began for (_, end), (next_began, _) in zip(spans, spans[1:], strict=False))


def write_while_another_holds_the_lock(write) -> BaseException | None:
    """Run `write` in a thread (busy timeout 0.2 s) while another thread's transaction holds the
    writer lock; returns what `write` raised (None if it went through)."""
    outcome: list[BaseException | None] = []
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Account.objects.create(shadow_bot_account="holder", host_ip="10.0.0.1", port=8000)
            held.set()
            release.wait(10)
        connections.close_all()

    def write_briefly() -> None:
        # Every thread's connection shares one settings dict: put the timeout back afterwards,
        # or every later test of this process waits 0.2 s at most for the writer lock.
        options = connection.settings_dict["OPTIONS"]
        connection.settings_dict["OPTIONS"] = {**options, "timeout": 0.2}
        try:
            write()
            outcome.append(None)
        except OperationalError as exc:
            outcome.append(exc)
        finally:
            connection.settings_dict["OPTIONS"] = options
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    waiter = threading.Thread(target=write_briefly)
    waiter.start()
    waiter.join(10)
    release.set()
    holder.join(10)
    assert len(outcome) == 1
    return outcome[0]


def test_a_writer_gives_up_after_the_busy_timeout_with_database_is_locked():
    def create_late() -> None:
        with transaction.atomic():
            Account.objects.create(shadow_bot_account="late", host_ip="10.0.0.1", port=8000)

    assert "database is locked" in str(write_while_another_holds_the_lock(create_late))
    assert not lock().locked()
    assert list(Account.objects.values_list("shadow_bot_account", flat=True)) == ["holder"]


def test_a_write_outside_a_transaction_takes_its_turn_on_the_lock():
    """An autocommit UPDATE is a transaction of its own: it waits on the process's lock (and
    gives up with its message), not on SQLite's busy handler behind the lock's holder."""
    Account.objects.create(shadow_bot_account="a", host_ip="10.0.0.1", port=8000)

    def update() -> None:
        Account.objects.filter(shadow_bot_account="a").update(port=9000)

    assert "another writer of this process" in str(write_while_another_holds_the_lock(update))
    assert not lock().locked()
    assert Account.objects.get(shadow_bot_account="a").port == 8000


def test_a_write_outside_a_transaction_releases_the_lock_and_reads_never_take_it():
    account = Account.objects.create(shadow_bot_account="a", host_ip="10.0.0.1", port=8000)
    taken = []
    real = lock()

    with connection.execute_wrapper(lambda execute, sql, *rest: (taken.append(real.locked()), execute(sql, *rest))[1]):
        Account.objects.filter(pk=account.pk).update(port=9000)
        assert Account.objects.get(pk=account.pk).port == 9000
    assert not real.locked()
    assert taken == [True, False]  # the UPDATE ran holding it, the SELECT did not


def test_waiting_writers_get_the_lock_in_the_order_they_asked_for_it():
    """First come, first served (threading.Lock wakes any waiter: some writers lost over and
    over under a burst of webhooks)."""
    from rpa_workbench.sqlite.base import FairLock

    fair = FairLock()
    assert fair.acquire(timeout=1)
    order: list[int] = []
    asked = threading.Semaphore(0)

    def writer(n: int) -> None:
        asked.release()
        assert fair.acquire(timeout=10)
        order.append(n)
        fair.release()

    threads = []
    for n in range(8):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        asked.acquire()  # this writer has asked before the next one starts
        while fair.waiting() < n + 1:  # and is queued
            time.sleep(0.001)
        threads.append(thread)
    fair.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == list(range(8))
    assert not fair.locked()


def test_a_writer_that_times_out_leaves_the_queue():
    from rpa_workbench.sqlite.base import FairLock

    fair = FairLock()
    assert fair.acquire(timeout=1)
    assert fair.acquire(timeout=0.01) is False
    fair.release()
    assert not fair.locked()
    assert fair.acquire(timeout=0.01)
