"""Demo robots and tasks for `seed_demo` and `seed_demo_queue`, written as the API writes them
(its events, the task's next run planned, a pool task's robot kept in its pool), so a seed re-run
against a live server reaches its streams and cached lists. An existing row is left as it is."""

from __future__ import annotations

from typing import Any

from accounts.models import Account
from accounts.services import create_account
from tasks.editing import create_task
from tasks.models import Task


def demo_account(name: str, host_ip: str, port: int, extra: dict[str, Any] | None = None) -> Account:
    """The demo robot at (name, host IP, port), created unless it exists."""
    existing = Account.objects.filter(shadow_bot_account=name, host_ip=host_ip, port=port).first()
    return existing or create_account(shadow_bot_account=name, host_ip=host_ip, port=port, **(extra or {}))


def demo_task(account: Account, app_name: str, defaults: dict[str, Any]) -> tuple[Task, bool]:
    """(the robot's task for `app_name`, whether it was created); an existing task keeps what the
    operator made of it."""
    existing = Task.objects.select_related("account").filter(account=account, app_name=app_name).first()
    if existing is not None:
        return existing, False
    return create_task(fields={"account": account, "app_name": app_name, **defaults}), True
