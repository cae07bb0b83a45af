"""Live events (API.md §6): the one module that names channels, builds payloads and publishes.

Every state change calls one `publish_*` function here. Publishing waits for the surrounding
transaction to commit (`transaction.on_commit`), so a rolled-back change sends nothing, and a
broken event backend is logged, never allowed to fail the request that caused the change.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django_eventstream.channelmanager import DefaultChannelManager

logger = logging.getLogger(__name__)

ALL_CHANNEL = "rpa"
ACCOUNT_CHANNEL_PREFIX = "account-"

LOG_CREATED = "log_created"
ACCOUNT_UPDATED = "account_updated"
TASK_UPDATED = "task_updated"
HEARTBEAT = "heartbeat"


def account_channel(account_id: Any) -> str:
    return f"{ACCOUNT_CHANNEL_PREFIX}{account_id}"


def snapshot(instance, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values of `fields` now, to diff against after a change."""
    return {name: getattr(instance, name) for name in fields}


def changed(before: dict[str, Any], instance) -> dict[str, Any]:
    """The fields whose value differs from `before`, with their new values."""
    return {name: getattr(instance, name) for name, old in before.items() if getattr(instance, name) != old}


class ChannelManager(DefaultChannelManager):
    """Every authenticated reader sees the global channel; `?account_id=` narrows to one account."""

    def get_channels_for_request(self, request, view_kwargs):
        account_id = request.GET.get("account_id")
        if account_id:
            return {account_channel(account_id)}
        return {ALL_CHANNEL}

    def can_read_channel(self, user, channel):
        return bool(user is not None and user.is_authenticated)


def _send(event_type: str, data: dict[str, Any], account_id: Any | None) -> None:
    from django_eventstream import send_event

    payload = {"type": event_type, "data": data}
    channels = [ALL_CHANNEL]
    if account_id is not None:
        channels.append(account_channel(account_id))
    for channel in channels:
        try:
            send_event(channel, event_type, payload)
        except Exception:
            logger.exception("could not publish %s on %s", event_type, channel)


def _publish_after_commit(event_type: str, data: dict[str, Any], account_id: Any | None) -> None:
    transaction.on_commit(lambda: _send(event_type, data, account_id))


def publish_account_updated(account, changes: dict[str, Any]) -> None:
    if not changes:
        return
    data = {"account_id": str(account.pk), "shadow_bot_account": account.shadow_bot_account, "changes": changes}
    _publish_after_commit(ACCOUNT_UPDATED, data, account.pk)


def publish_task_updated(task, changes: dict[str, Any]) -> None:
    if not changes:
        return
    data = {
        "task_id": str(task.pk),
        "shadow_bot_account": task.account.shadow_bot_account,
        "app_name": task.app_name,
        "changes": changes,
    }
    _publish_after_commit(TASK_UPDATED, data, task.account_id)


def publish_log_created(log) -> None:
    data = {
        "log_id": str(log.pk),
        "shadow_bot_account": log.shadow_bot_account,
        "app_name": log.app_name,
        "status": log.status,
    }
    _publish_after_commit(LOG_CREATED, data, log.account_id)
