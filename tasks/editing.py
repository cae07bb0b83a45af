"""Creating, changing and deleting tasks — shared by the API and the admin.

Each workflow writes in one transaction and publishes `task_updated` after commit. One task per
app per account is enforced by a case-insensitive unique index; the pre-check here only gives the
common case a friendly message, and a lost race still ends as 409 TASK_EXISTS.
`status` is never written here: it changes only through `jobs.transitions` (control, webhooks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from rpa_workbench import events
from rpa_workbench.errors import ApiError, Conflict
from tasks import parameters as task_parameters
from tasks.models import TASK_TRACKED_FIELDS, Task, TaskStatus
from tasks.schedules import next_run_after

# Fields that decide which robot runs what: not changeable while the robot is running the task.
BINDING_FIELDS = ("account", "app_name")

# What a task's jobs copy when they are queued (the binding, and the pool whose robots may take
# them): an edit of one of them calls BINDING_HOOKS.
JOB_BINDING_FIELDS = (*BINDING_FIELDS, "pool")

# Called inside an edit's transaction, with the task's row locked and saved, when one of
# JOB_BINDING_FIELDS changed: jobs registers how its queued jobs follow the task
# (jobs.rebinding, from its AppConfig.ready: tasks sits below jobs and cannot import it).
BINDING_HOOKS: list[Callable[[Task], object]] = []

# Columns that control, the robots' webhooks, the scheduler and the dispatcher own: an edit
# never writes them (a stale copy would undo a confirm, a heartbeat or a scheduler claim).
OWNED_FIELDS = frozenset({"status", "last_run_time", "next_run_at", "start_requested_at", "last_seen_at"})


class AccountNotFound(LookupError):
    """No single account matches; `field` names the request field to blame."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def resolve_account(
    *,
    account_id: Any = None,
    shadow_bot_account: str | None = None,
    host_ip: str | None = None,
    port: int | None = None,
) -> Account:
    """The account a client means: by `account_id`, or by name + host IP (+ port when the same
    name runs on several ports of that host)."""
    if account_id:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise AccountNotFound("account_id", f"account {account_id} does not exist")
        return account
    if not shadow_bot_account:
        raise AccountNotFound("shadow_bot_account", "this field is required")
    if not host_ip:
        raise AccountNotFound("host_ip", "this field is required")
    candidates = Account.objects.filter(shadow_bot_account=shadow_bot_account, host_ip=host_ip)
    if port is not None:
        candidates = candidates.filter(port=port)
    found = list(candidates.order_by("port")[:2])
    if not found:
        where = f"{shadow_bot_account} on {host_ip}" + (f":{port}" if port is not None else "")
        raise AccountNotFound("shadow_bot_account", f"no robot account {where}; create the account first")
    if len(found) > 1:
        raise AccountNotFound(
            "account_port",
            f"{shadow_bot_account} runs on several ports of {host_ip}; say which with account_port",
        )
    return found[0]


def ensure_unique_app(account: Account, app_name: str, exclude_pk=None) -> None:
    qs = Task.objects.filter(account=account, app_name__iexact=app_name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise _duplicate(account, app_name)


def _duplicate(account: Account, app_name: str) -> Conflict:
    return Conflict("TASK_EXISTS", f"account {account.task_control} already has a task for app {app_name}")


def _plan_next_run(task: Task) -> None:
    """Keep `next_run_at` in step with the schedule (the scheduler claims rows by it)."""
    task.next_run_at = (
        next_run_after(task.schedule, task.schedule_timezone, timezone.now()) if task.schedule else None
    )


def create_task(*, fields: dict[str, Any], user=None) -> Task:
    fields = {k: v for k, v in fields.items() if k not in OWNED_FIELDS}
    definitions = fields.pop("parameters", None)
    task = Task(**fields)
    _plan_next_run(task)
    try:
        with transaction.atomic():
            task.save()
            if definitions:
                task_parameters.replace(task, definitions)
            keep_robot_in_pool(task)
            events.publish_task_updated(task, {"created": True, **events.snapshot(task, TASK_TRACKED_FIELDS)})
    except IntegrityError:
        raise _duplicate(task.account, task.app_name) from None
    return task


def update_task(*, task: Task, changes: dict[str, Any], user=None) -> Task:
    """Apply `changes` (validated field values) and return the task as saved.

    Only what the client changed is written: a value equal to the one in `task` (the copy the
    caller loaded and validated against) is left alone, so a `trigger_time` the scheduler fired
    meanwhile is not re-armed. The row is re-read under a lock and saved with `update_fields`,
    never the owned columns. Moving a running task to another account or app is refused: the
    robot would go on running the old one unobserved.
    """
    definitions = changes.pop("parameters", None)
    changes = {
        name: value
        for name, value in changes.items()
        if name not in OWNED_FIELDS and _identity(value) != _identity(getattr(task, name))
    }
    try:
        with transaction.atomic():
            # The task's row only (`of`): its account is read, not locked. Locking both in one
            # statement took the account after the task, against the lock order (account, task:
            # jobs/locks.py), and deadlocked with a report holding the account (the pools soak).
            current = Task.objects.select_for_update(of=("self",)).select_related("account").filter(pk=task.pk).first()
            if current is None:  # deleted since the caller loaded it (a DELETE won the race)
                raise ApiError(404, "NOT_FOUND", f"task {task.pk} no longer exists")
            _refuse_moving_a_running_task(current, changes)
            if definitions is not None and task_parameters.replace(current, definitions):
                # Shown as the API shows them: a secret default masked.
                events.publish_task_updated(
                    current, {"parameters": [task_parameters.represent(p) for p in current.parameters.all()]}
                )
            if not changes:
                return current
            before = events.snapshot(current, TASK_TRACKED_FIELDS)
            for name, value in changes.items():
                setattr(current, name, value)
            written = [Task._meta.get_field(name).name for name in changes]
            if "schedule" in changes or "schedule_timezone" in changes:
                _plan_next_run(current)
                written.append("next_run_at")
            current.save(update_fields=[*written, "updated_at"])
            keep_robot_in_pool(current)
            if any(name in written for name in JOB_BINDING_FIELDS):
                for hook in BINDING_HOOKS:
                    hook(current)
            events.publish_task_updated(current, events.changed(before, current))
    except IntegrityError:
        raise _duplicate(changes.get("account", task.account), changes.get("app_name", task.app_name)) from None
    return current


def keep_robot_in_pool(task: Task) -> None:
    """API.md §12: a pool task's own robot is one of the pool's robots (the SPA shows the task on
    it); binding a task to a pool, or a pool task to another robot, adds that robot to the pool."""
    if task.pool_id is not None:
        task.pool.accounts.add(task.account_id)


def _refuse_moving_a_running_task(current: Task, changes: dict[str, Any]) -> None:
    if current.status != TaskStatus.RUNNING:
        return
    moved = [name for name in BINDING_FIELDS if name in changes and _key(changes[name]) != _key(getattr(current, name))]
    if moved:
        raise Conflict(
            "TASK_ALREADY_RUNNING",
            f"task {current.task_name} is running; stop it before changing its {' or '.join(moved)}",
        )


def delete_task(*, task: Task, user=None) -> None:
    """Delete the task; its control requests and execution logs stay (history is never lost)."""
    with transaction.atomic():
        events.publish_task_updated(task, {"deleted": True})
        task.delete()


def _identity(value: Any) -> Any:
    """What makes two field values the same edit: a related object by its primary key."""
    return getattr(value, "pk", value)


def _key(value: Any) -> Any:
    """What makes two bindings the same: app names compare case-insensitively."""
    return value.lower() if isinstance(value, str) else _identity(value)
