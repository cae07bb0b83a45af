"""Django's SQLite backend, with the writers of one process queued on a lock.

Under Daphne every request runs in its own thread with its own connection. SQLite lets one
writer in at a time and makes the others retry on its busy handler, which sleeps with growing
back-off (up to 100 ms a try) and serves nobody in order: under a burst of webhooks some writers
lose again and again and wait seconds while the database is mostly idle. Here a write
transaction (`BEGIN IMMEDIATE`, i.e. every `atomic` block) first takes a process-wide lock per
database file, released at commit, rollback or close, and so does a write statement outside a
transaction (for its one statement), so the threads of one server take turns at once and in
order (`FairLock`: first come, first served). Writers in other processes (a second server, a
management command) still meet on SQLite's busy timeout, as before.
"""

from __future__ import annotations

import threading
from collections import deque

from django.db import OperationalError
from django.db.backends.sqlite3 import base


class FairLock:
    """A lock granted in the order it was asked for. `threading.Lock` lets whichever thread runs
    next take it: with 16 webhooks waiting, some lost over and over (p99 1.7 s under wrk where
    the median was 0.15 s; bench/README.md)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release(): the lock stayed held, now by us
        with self._mutex:
            try:
                self._waiting.remove(turn)
            except ValueError:
                return True  # handed over just as the wait timed out: ours after all
            return False

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many threads are queued for it."""
        return len(self._waiting)

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._held = False


_locks: dict[str, FairLock] = {}
_locks_guard = threading.Lock()


def writer_lock(name: str) -> FairLock:
    """The lock shared by every connection of this process to database file `name`."""
    with _locks_guard:
        return _locks.setdefault(str(name), FairLock())


# Statements that write: outside a transaction each is one (SQLite commits it at once).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class DatabaseWrapper(base.DatabaseWrapper):
    _held_writer_lock: FairLock | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's public instrumentation hook, on every statement of this connection.
        self.execute_wrappers.append(self._queue_autocommit_write)

    def _take_writer_lock(self) -> FairLock:
        lock = writer_lock(self.settings_dict["NAME"])
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not lock.acquire(timeout=timeout):
            raise OperationalError(f"database is locked (another writer of this process held it for {timeout:g} s)")
        return lock

    def _queue_autocommit_write(self, execute, sql, params, many, context):
        """A write outside `atomic` (an `.update()`, a `save()`) is a transaction of its own:
        it takes its turn on the lock too, instead of meeting the lock's holder on SQLite's busy
        handler (sleeps of up to 100 ms, in no order: seconds under a burst)."""
        if self.in_atomic_block or self._held_writer_lock is not None or not self.get_autocommit():
            return execute(sql, params, many, context)
        if not sql.lstrip()[:7].upper().startswith(WRITES):
            return execute(sql, params, many, context)
        lock = self._take_writer_lock()
        try:
            return execute(sql, params, many, context)
        finally:
            lock.release()

    def _start_transaction_under_autocommit(self):
        lock = self._take_writer_lock()
        self._held_writer_lock = lock
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _release_writer_lock(self) -> None:
        lock, self._held_writer_lock = self._held_writer_lock, None
        if lock is not None:
            lock.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer_lock()
