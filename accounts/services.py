"""Account workflows shared by the API and the admin: each writes in one transaction and
publishes `account_updated` after commit."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from accounts.models import Account, task_control_of
from rpa_workbench import events
from rpa_workbench.errors import Conflict

TRACKED_FIELDS = ("shadow_bot_account", "host_ip", "port", "status", "recent_app", "end_time", "task_control")


def ensure_unique(shadow_bot_account: str, host_ip: str, port: int, exclude_pk=None) -> None:
    task_control = task_control_of(shadow_bot_account, host_ip, port)
    qs = Account.objects.filter(task_control=task_control)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict("ACCOUNT_EXISTS", f"account {task_control} already exists")


def _duplicate(account: Account) -> Conflict:
    return Conflict("ACCOUNT_EXISTS", f"account {account.task_control} already exists")


def create_account(**fields: Any) -> Account:
    account = Account(**fields)
    try:
        with transaction.atomic():
            account.save()
            events.publish_account_updated(account, {"created": True, **events.snapshot(account, TRACKED_FIELDS)})
    except IntegrityError:
        # Lost a race with a concurrent create of the same name/IP/port: the unique index decided.
        raise _duplicate(account) from None
    return account


def update_account(account: Account, **fields: Any) -> Account:
    before = events.snapshot(account, TRACKED_FIELDS)
    for name, value in fields.items():
        setattr(account, name, value)
    if not fields:
        return account
    try:
        with transaction.atomic():
            # Only what was edited: robots own last_seen_at, presence_state, last_heartbeat_at.
            account.save(update_fields=[*fields, "updated_at"])
            events.publish_account_updated(account, events.changed(before, account))
    except IntegrityError:
        raise _duplicate(account) from None
    return account


def delete_account(account: Account) -> None:
    """Refused with 409 ACCOUNT_HAS_TASKS while tasks are bound (the foreign key protects too)."""
    bound = account.tasks.count()
    if bound:
        raise Conflict("ACCOUNT_HAS_TASKS", f"account {account.task_control} still has {bound} task(s); delete or move them first")
    try:
        with transaction.atomic():
            events.publish_account_updated(account, {"deleted": True})
            account.delete()
    except ProtectedError:
        raise Conflict("ACCOUNT_HAS_TASKS", f"account {account.task_control} still has tasks bound to it") from None
