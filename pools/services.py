"""Pool edits (API.md §12): one place for the rules the API and the admin share.

- `name` is unique: a duplicate is 409 POOL_EXISTS (checked first for the message, and by the
  unique index for the race);
- a robot that is a pool task's own robot stays a member while the task uses the pool (the SPA
  shows the task on that robot): removing it is a 400 naming the task;
- a pool is deleted only while no task uses it and no job waits for its robots: 409 POOL_IN_USE.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account
from pools.models import Pool
from rpa_workbench.errors import ApiError, Conflict


def _taken(name: str, exclude_pk=None) -> Conflict | None:
    others = Pool.objects.filter(name=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return Conflict("POOL_EXISTS", f"a pool named {name} exists already") if others.exists() else None


def _members(account_ids: Iterable) -> list[Account]:
    wanted = list(dict.fromkeys(account_ids))
    found = {account.pk: account for account in Account.objects.filter(pk__in=wanted)}
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        raise ApiError(400, "VALIDATION_ERROR", f"account_ids: no robot account {missing[0]}",
                       details={"account_ids": [f"no robot account {pk}" for pk in missing]})
    return [found[pk] for pk in wanted]


def own_robot_dropped(pool: Pool, members: list[Account]):
    """A task of the pool whose own robot is not among `members` (the first), or None."""
    kept = {account.pk for account in members}
    return pool.tasks.exclude(account_id__in=kept).select_related("account").order_by("task_name").first()


def keep_own_robots(pool: Pool, members: list[Account]) -> None:
    task = own_robot_dropped(pool, members)
    if task is not None:
        message = (f"account_ids: robot {task.account.task_control} runs task {task.task_name} on this pool "
                   "and must stay a member (move the task to another robot first)")
        raise ApiError(400, "VALIDATION_ERROR", message, details={"account_ids": [message]})


def create_pool(*, fields: dict[str, Any]) -> Pool:
    account_ids = fields.pop("account_ids", None) or []
    conflict = _taken(fields["name"])
    if conflict:
        raise conflict
    members = _members(account_ids)
    try:
        with transaction.atomic():
            pool = Pool.objects.create(**fields)
            pool.accounts.set(members)
    except IntegrityError:
        raise _taken(fields["name"]) or Conflict("POOL_EXISTS", f"a pool named {fields['name']} exists already") from None
    return pool


def update_pool(*, pool: Pool, changes: dict[str, Any]) -> Pool:
    """Writes only the fields sent (and the member set when `account_ids` is sent)."""
    account_ids = changes.pop("account_ids", None)
    if "name" in changes:
        conflict = _taken(changes["name"], exclude_pk=pool.pk)
        if conflict:
            raise conflict
    members = _members(account_ids) if account_ids is not None else None
    changed = {name: value for name, value in changes.items() if getattr(pool, name) != value}
    try:
        with transaction.atomic():
            current = Pool.objects.select_for_update().filter(pk=pool.pk).first()
            if current is None:
                raise ApiError(404, "NOT_FOUND", f"pool {pool.pk} no longer exists")
            if members is not None:
                keep_own_robots(current, members)
                current.accounts.set(members)
            if changed:
                for name, value in changed.items():
                    setattr(current, name, value)
                current.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise Conflict("POOL_EXISTS", f"a pool named {changes.get('name')} exists already") from None
    return current


def delete_pool(*, pool: Pool) -> None:
    with transaction.atomic():
        Pool.objects.select_for_update().filter(pk=pool.pk).first()
        users = list(pool.tasks.values_list("task_name", flat=True)[:3])
        if users:
            raise Conflict("POOL_IN_USE", f"pool {pool.name} is used by tasks: {', '.join(users)}")
        # jobs queued for any of its robots would never run (a task's waiting jobs follow it out
        # of the pool, jobs/rebinding.py: this only guards against one left behind by a race)
        waiting = pool.jobs.filter(status="queued", any_robot=True).count()
        if waiting:
            raise Conflict("POOL_IN_USE", f"pool {pool.name} still has {waiting} jobs waiting for its robots")
        pool.delete()
