"""Row locks, in the one order every transaction takes them.

LOCK ORDER (every transaction that locks rows, in every app): the robot's **account**, then the
**task**, then the **job**, then anything else (control requests, execution logs, events).
`lock_robot` and `lock_task` take the first two and every transition, claim, report, confirm,
outbox lease and scheduler claim begins with them; `jobs.transitions.move` locks the task before the
job it updates. Account and task locks are `FOR NO KEY UPDATE` / `FOR UPDATE` row locks on PostgreSQL
(inserting a job or log that references them takes only a KEY SHARE and does not wait); on
SQLite every write transaction is `BEGIN IMMEDIATE` and so serialized. A one-statement write
(e.g. a task's `last_seen_at`) holds one lock and may come in any order.
`jobs/tests/test_lock_order.py` runs a mix of operations on PostgreSQL against it.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from accounts.models import Account
from jobs.backends import in_transaction
from tasks.models import Task


def _require_transaction() -> None:
    if not in_transaction():
        raise RuntimeError("row locks are taken inside the caller's transaction.atomic()")


def transaction_locks_everything() -> bool:
    """SQLite: every transaction begins IMMEDIATE (settings), i.e. holding the database's one
    write lock, so what it reads cannot change under it and row locks (which SQLite has not)
    add nothing. PostgreSQL: rows are locked one by one, as below."""
    return not connection.features.has_select_for_update


def lock_robot(account_id) -> None:
    """Lock the account row first, always: every transaction that moves jobs takes the account,
    then the task (on PostgreSQL; SQLite serializes writers anyway), so none can deadlock.
    NO KEY UPDATE: a job inserted for the account (a foreign key's KEY SHARE) does not wait on it.
    A database without row locks (SQLite: its write transactions are serialized) skips the read."""
    if account_id is not None and not transaction_locks_everything():
        list(Account.objects.select_for_update(no_key=True).filter(pk=account_id).values_list("pk", flat=True))


def lock_robots(account_ids) -> None:
    """Several accounts, locked in one statement in primary-key order (as the claim takes them)."""
    wanted = sorted({pk for pk in account_ids if pk is not None})
    if len(wanted) == 1:
        lock_robot(wanted[0])
    elif wanted and not transaction_locks_everything():
        list(Account.objects.select_for_update(no_key=True).filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))


def lock_task(task_pk, *, account_id: Any = None, read_in_transaction: Task | None = None, robot_id: Any = None) -> Task:
    """The task, locked after its account (see lock_robot), with that account loaded under the
    lock. `account_id`, when the caller has just read it, saves reading it again; should the task
    have moved to another account meanwhile, that account is locked too.
    `read_in_transaction`: the task (its account loaded) as this transaction already read it;
    where the transaction holds the whole database (SQLite) that row is current and is used as is.
    `robot_id`: the robot a pool task's job runs on (API.md §12), locked with the task's own
    robot before the task, so the job's transition never locks an account after the task."""
    if read_in_transaction is not None and transaction_locks_everything():
        _require_transaction()
        return read_in_transaction
    if account_id is None:
        account_id = Task.objects.filter(pk=task_pk).values_list("account_id", flat=True).first()
    lock_robots([account_id, robot_id])
    task = Task.objects.select_for_update().select_related("account").get(pk=task_pk)
    if task.account_id != account_id:
        lock_robot(task.account_id)
        task.account = Account.objects.get(pk=task.account_id)
    return task
