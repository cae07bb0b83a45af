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


# Columns robots, the scheduler and the dispatcher own: set on create, never by an edit (a
# stale copy would undo a heartbeat, a confirm or a finished run).
OWNED_FIELDS = frozenset(
    {"status", "recent_app", "end_time", "last_heartbeat_at", "last_seen_at", "presence_state", "task_control"}
)


def update_account(account: Account, **fields: Any) -> Account:
    """Apply the edited `fields` and return the account as saved.

    Only what the client changed (a value differing from `account`, the copy the caller loaded)
    is written, on the row re-read under a lock, with `update_fields`; the owned columns never.
    """
    fields = {
        name: value
        for name, value in fields.items()
        if name not in OWNED_FIELDS and value != getattr(account, name)
    }
    try:
        with transaction.atomic():
            current = Account.objects.select_for_update().get(pk=account.pk)
            if not fields:
                return _with_annotations(current, account)
            before = events.snapshot(current, TRACKED_FIELDS)
            for name, value in fields.items():
                setattr(current, name, value)
            current.save(update_fields=[*fields, "updated_at"])
            events.publish_account_updated(current, events.changed(before, current))
    except IntegrityError:
        name, host_ip, port = (fields.get(f, getattr(account, f)) for f in ("shadow_bot_account", "host_ip", "port"))
        raise Conflict("ACCOUNT_EXISTS", f"account {task_control_of(name, host_ip, port)} already exists") from None
    return _with_annotations(current, account)


# What the API's queryset annotates on an account (accounts.views, accounts.presence).
ANNOTATIONS = ("task_count", "presence")


def _with_annotations(current: Account, loaded: Account) -> Account:
    """Keep what the view's queryset annotated on the re-read row."""
    for name in ANNOTATIONS:
        if hasattr(loaded, name):
            setattr(current, name, getattr(loaded, name))
    return current


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
