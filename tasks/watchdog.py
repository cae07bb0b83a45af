"""The lost-robot watchdog: a running task whose robot has gone silent is marked lost.

A robot proves it is alive by confirming a start and by sending heartbeats (both set
`Task.last_seen_at`). When a running task has shown no sign of life for
`settings.RPA_HEARTBEAT_TIMEOUT` seconds, the robot has most likely crashed, lost its network or
been switched off, and the task would otherwise stay "running" forever. The watchdog then, in one
transaction: task → pending, account → failed, a failed execution log saying contact was lost
(so the history and the dashboard show it), an audit row (source `watchdog`), and the events.

No stop request is sent: the robot is unreachable by definition, and a relay call must never run
inside the transaction. Each task is claimed with a conditional UPDATE that repeats the staleness
condition, so several watchdogs (one per scheduler process) mark a task lost exactly once, and a
heartbeat that lands just before the claim wins.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AccountStatus
from alerts import sources as alert_sources
from executionlogs.models import ExecutionLog, ExecutionStatus
from rpa_workbench import events
from tasks.models import ControlAction, ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

logger = logging.getLogger(__name__)

ACCOUNT_FIELDS = ("status", "recent_app", "end_time")


def silent_since(cutoff: datetime) -> Q:
    """Running tasks with no sign of life after `cutoff`.

    The last sign of life is `last_seen_at`, falling back to `last_run_time` (a confirm from a
    version that did not set last_seen_at), then to `updated_at` (a row made running by hand).
    """
    return Q(status=TaskStatus.RUNNING) & (
        Q(last_seen_at__lt=cutoff)
        | Q(last_seen_at__isnull=True, last_run_time__lt=cutoff)
        | Q(last_seen_at__isnull=True, last_run_time__isnull=True, updated_at__lt=cutoff)
    )


def _last_sign_of_life(task: Task) -> datetime:
    return task.last_seen_at or task.last_run_time or task.updated_at


def _describe(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" + ("" if minutes == 1 else "s")
    return f"{seconds} seconds"


def mark_lost(*, task_id, now: datetime, timeout: int) -> ExecutionLog | None:
    """Mark one task lost if it is still running and silent; None when someone else got there first."""
    cutoff = now - timedelta(seconds=timeout)
    with transaction.atomic():
        task = Task.objects.select_related("account").filter(pk=task_id).first()
        if task is None:
            return None
        last_seen = _last_sign_of_life(task)
        # The claim: only one watchdog (and no fresh heartbeat) gets a row back from this UPDATE.
        claimed = (
            Task.objects.filter(silent_since(cutoff), pk=task_id)
            .update(status=TaskStatus.PENDING, start_requested_at=None, updated_at=now)
        )
        if not claimed:
            return None
        task.status = TaskStatus.PENDING
        task.start_requested_at = None

        account = task.account
        before = events.snapshot(account, ACCOUNT_FIELDS)
        account.status = AccountStatus.FAILED
        account.recent_app = task.app_name
        account.end_time = now
        account.save(update_fields=[*ACCOUNT_FIELDS, "updated_at"])

        message = (
            f"Contact lost: no confirm or heartbeat from robot {account.shadow_bot_account} "
            f"({account.host_ip}:{account.port}) for {_describe(timeout)} while running {task.app_name} "
            f"(last seen {timezone.localtime(last_seen):%Y-%m-%d %H:%M:%S %Z}); marked failed by the watchdog."
        )
        start_time = task.last_run_time or last_seen
        log = ExecutionLog.objects.create(
            text=message,
            app_name=task.app_name,
            shadow_bot_account=account.shadow_bot_account,
            host_ip=account.host_ip,
            status=ExecutionStatus.FAILED,
            start_time=start_time,
            end_time=now,
            duration=max((now - start_time).total_seconds(), 0.0),
            result_summary={"error_message": "contact lost", "last_seen_at": last_seen.isoformat()},
            account=account,
            task=task,
        )
        ControlRequest.objects.create(
            task=task,
            shadow_bot_account=account.shadow_bot_account,
            host_ip=account.host_ip,
            port=account.port,
            app_name=task.app_name,
            action=ControlAction.FORCE_STOP,
            source=ControlSource.WATCHDOG,
            outcome=ControlOutcome.SKIPPED,
            error=message + " No stop request was sent (the robot is unreachable).",
        )
        events.publish_task_updated(task, {"status": TaskStatus.PENDING.value})
        events.publish_account_updated(account, events.changed(before, account))
        events.publish_log_created(log)
        alert_sources.robot_lost(task, log)
    logger.warning("watchdog: %s", message)
    return log


def check_lost(*, now: datetime | None = None, timeout: int | None = None) -> list[str]:
    """Mark every silent running task lost; returns the ids of the tasks marked."""
    now = now or timezone.now()
    timeout = settings.RPA_HEARTBEAT_TIMEOUT if timeout is None else timeout
    cutoff = now - timedelta(seconds=timeout)
    lost: list[str] = []
    for task_id in list(Task.objects.filter(silent_since(cutoff)).values_list("pk", flat=True)):
        try:
            if mark_lost(task_id=task_id, now=now, timeout=timeout) is not None:
                lost.append(str(task_id))
        except Exception:
            # One bad row must not stop the loop from looking after the others.
            logger.exception("watchdog: could not mark task %s lost", task_id)
    return lost
