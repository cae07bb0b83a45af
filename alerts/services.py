"""Raising alerts, and sending a channel's test message.

`raise_alert` is called inside the transaction of the change that caused it (after the
compare-and-set that made the change happen once): it writes the Alert and one pending Delivery
per matching channel in that transaction, so a rollback sends nothing, and publishes the SSE
`alert` event after commit. Nothing is sent here: `alerts.worker` sends later, outside any
transaction and any request.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from alerts import channels, messages
from alerts.models import Alert, AlertEvent, Channel, Delivery, Severity
from rpa_workbench import events

DEFAULT_SEVERITY = {
    AlertEvent.JOB_FAILED: Severity.WARNING,
    AlertEvent.JOB_STOPPED_BY_TIMEOUT: Severity.WARNING,
    AlertEvent.ROBOT_OFFLINE: Severity.CRITICAL,
    AlertEvent.ROBOT_ONLINE: Severity.INFO,
    AlertEvent.ROBOT_LOST: Severity.CRITICAL,
    AlertEvent.DISPATCH_FAILED: Severity.CRITICAL,
    AlertEvent.QUEUE_WAIT_EXCEEDED: Severity.WARNING,
    AlertEvent.SCHEDULE_SKIPPED: Severity.INFO,
    AlertEvent.QUEUE_SLA_BREACHED: Severity.WARNING,
    AlertEvent.QUEUE_ITEM_FAILED: Severity.WARNING,
}


def _context(account, task, job, details: dict[str, Any]) -> dict[str, Any]:
    """What the message and the webhook body are made of, frozen at raise time."""
    context: dict[str, Any] = {}
    if job is not None:
        context["job_id"] = str(job.pk)
        context["reason"] = getattr(job, "reason", None) or None
    if task is not None:
        context.update(task_id=str(task.pk), task_name=task.task_name, app_name=task.app_name)
    if account is not None:
        context.update(
            account_id=str(account.pk),
            shadow_bot_account=account.shadow_bot_account,
            host_ip=account.host_ip,
            port=account.port,
        )
    context.update({key: value for key, value in details.items() if value is not None})
    return {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in context.items()}


def matching_channels(event: str, account_id) -> list[Channel]:
    """Enabled channels that want `event` for this robot (no robots listed = every robot).

    Filtered in Python: channels are few, and JSON containment is not portable to SQLite."""
    found = []
    for channel in Channel.objects.filter(enabled=True).prefetch_related("accounts"):
        if event not in (channel.events or []):
            continue
        covered = {account.pk for account in channel.accounts.all()}
        if covered and account_id not in covered:
            continue
        found.append(channel)
    return found


def raise_alert(
    *,
    event: str,
    account=None,
    task=None,
    job=None,
    severity: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Alert:
    """Record one alert and its deliveries in the caller's transaction; publish it after commit."""
    if event not in AlertEvent.values:
        raise ValueError(f"unknown alert event {event!r}")
    if job is not None:
        task = task or getattr(job, "task", None)
        account = account or getattr(job, "account", None)
    if task is not None and account is None:
        account = task.account
    now = now or timezone.now()
    context = _context(account, task, job, details or {})
    with transaction.atomic():
        alert = Alert.objects.create(
            event=event,
            severity=severity or DEFAULT_SEVERITY.get(event, Severity.WARNING),
            message=messages.compose(event, context, now),
            account=account,
            task=task,
            job_id=context.get("job_id"),
            context=context,
            occurred_at=now,
        )
        Delivery.objects.bulk_create(
            [
                Delivery(alert=alert, channel=channel, event=event, message=alert.message, next_attempt_at=now)
                for channel in matching_channels(event, getattr(account, "pk", None))
            ]
        )
        events.publish_alert(alert)
    return alert


def send_test(channel: Channel) -> dict[str, Any]:
    """Send a test message now (the caller is a request or an admin action, outside any
    transaction) → `{success, status, message}`. Nothing is stored."""
    now = timezone.now()
    context = {"reason": "test / 测试"}
    zh, en = messages.TEST_TITLES
    text = f"【RPA】{zh}：告警渠道 {channel.name} 工作正常。\n[RPA] {en}: alert channel {channel.name} works."
    alert = Alert(event="test", message=text, context=context, occurred_at=now)
    delivery = Delivery(alert=alert, channel=channel, event="test", message=text, next_attempt_at=now)
    result = channels.send(delivery)
    if result.ok:
        text = gettext("test message sent to %(channel)s") % {"channel": channel.name}
        return {"success": True, "status": result.status, "message": text}
    text = gettext("test message failed: %(error)s") % {"error": result.error}
    return {"success": False, "status": result.status, "message": text}


def send_tests(channel_list: list[Channel]) -> list[dict[str, Any]]:
    """`send_test` for several channels at once (the admin action): in parallel, so a request
    never waits for N sends one after another. Results in the order of `channel_list`, in the
    caller's language (the API's is always English; the admin's follows the browser)."""
    if not channel_list:
        return []
    language = translation.get_language()

    def send_in_language(channel: Channel) -> dict[str, Any]:
        with translation.override(language):
            return send_test(channel)

    with ThreadPoolExecutor(max_workers=min(8, len(channel_list)), thread_name_prefix="rpa-alert-test") as pool:
        return list(pool.map(send_in_language, channel_list))
