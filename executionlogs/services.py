"""Execution logs: `create_log`, the one function that writes one, and what describes it.

The workflow of a robot's report (the execution-complete webhook, API.md §5) is
`jobs.reports.record_execution`, which calls `create_log` as its transaction's first write: the
database decides idempotency (the unique constraints on ExecutionLog), and `find_original`
names the log a repeat collided with. This module never calls into jobs.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import models

from executionlogs.models import ExecutionLog, ExecutionStatus
from rpa_workbench import events

logger = logging.getLogger(__name__)

# What robots may send as `status`, and what is stored for it.
ROBOT_STATUSES: dict[str, str] = {
    "completed": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "timeout": ExecutionStatus.FAILED,
}


def _format_summary(result_summary: dict[str, Any] | None) -> str:
    if not result_summary:
        return ""
    parts = []
    for key, label in (("total_items", "total"), ("success_items", "ok"), ("failed_items", "failed")):
        value = result_summary.get(key)
        if value is not None:
            parts.append(f"{label} {value}")
    text = ", ".join(parts)
    error = result_summary.get("error_message")
    if error:
        text = f"{text}; error: {error}" if text else f"error: {error}"
    return text


def summarise(
    *,
    app_name: str,
    robot_status: str,
    result_summary: dict[str, Any] | None,
    account_known: bool,
    task_known: bool,
    shadow_bot_account: str,
) -> str:
    """The log's `text`: `Ran daily_report: completed | ok 120, failed 3` plus any flags."""
    stored = ROBOT_STATUSES[robot_status]
    text = f"Ran {app_name}: {stored}"
    if robot_status == "timeout":
        text += " (robot reported a timeout)"
    summary = _format_summary(result_summary)
    if summary:
        text += f" | {summary}"
    if not account_known:
        text += f" | unknown account {shadow_bot_account}: no robot account matched, recorded anyway"
    elif not task_known:
        text += " | no task matched this app on the account"
    return text


def find_original(*, shadow_bot_account: str, app_name: str, start_time: datetime, execution_id: str | None):
    """The log a repeat delivery of this execution collided with (its idempotency keys)."""
    same = models.Q(shadow_bot_account=shadow_bot_account, app_name=app_name, start_time=start_time)
    if execution_id:
        same |= models.Q(execution_id=execution_id)
    return ExecutionLog.objects.filter(same).order_by("created_at").first()


def create_log(**fields: Any) -> ExecutionLog:
    """The one writer of execution logs (robot reports and the jobs' lost/timed-out runs alike):
    inserts the row (its first write, so a repeat fails before anything else) and publishes
    `log_created` after commit."""
    log = ExecutionLog(**fields)
    log.save(force_insert=True)
    events.publish_log_created(log)
    return log
