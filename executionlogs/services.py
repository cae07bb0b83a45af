"""Recording a finished execution (the execution-complete webhook, API.md §5).

`record_execution` is the one workflow: in one transaction it writes the log, sets the robot
account's status/recent_app/end_time and puts the matching task back to pending. The database
decides idempotency (the unique constraints on ExecutionLog), so two concurrent deliveries of the
same execution produce one log: the loser's insert (the transaction's first write) fails, its
transaction rolls back, and it answers with the winner's log, having written nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction

from accounts.models import Account, AccountStatus
from alerts import sources as alert_sources
from executionlogs.models import ExecutionLog, ExecutionStatus
from rpa_workbench import events
from tasks.models import Task, TaskStatus

logger = logging.getLogger(__name__)

# What robots may send as `status`, and what is stored for it.
ROBOT_STATUSES: dict[str, str] = {
    "completed": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "timeout": ExecutionStatus.FAILED,
}

ACCOUNT_FIELDS = ("status", "recent_app", "end_time")
TASK_FIELDS = ("status", "last_run_time")


def match_account(shadow_bot_account: str, host_ip: str | None = None) -> Account | None:
    """The account a robot means when no task matched: same name (and host IP when sent).

    Several accounts may share a name on different hosts; without a host IP the choice is
    deterministic: a running account first, then the one heard from most recently, then the
    oldest.
    """
    qs = Account.objects.filter(shadow_bot_account=shadow_bot_account)
    if host_ip:
        qs = qs.filter(host_ip=host_ip)
    return qs.order_by(
        models.Case(models.When(status=AccountStatus.RUNNING, then=0), default=1),
        models.F("last_heartbeat_at").desc(nulls_last=True),
        "created_at",
    ).first()


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


def _original(*, shadow_bot_account: str, app_name: str, start_time: datetime, execution_id: str | None):
    same = models.Q(shadow_bot_account=shadow_bot_account, app_name=app_name, start_time=start_time)
    if execution_id:
        same |= models.Q(execution_id=execution_id)
    return ExecutionLog.objects.filter(same).order_by("created_at").first()


def record_execution(
    *,
    shadow_bot_account: str,
    app_name: str,
    status: str,
    start_time: datetime,
    end_time: datetime | None = None,
    duration: float | None = None,
    result_summary: dict[str, Any] | None = None,
    log_info: bool = False,
    screenshot: bool = False,
    screenshot_url: str | None = None,
    log_url: str | None = None,
    host_ip: str | None = None,
    execution_id: str | None = None,
) -> tuple[ExecutionLog, bool]:
    """Record one finished execution; returns (log, created). A repeat returns the original.

    `status` is the robot's word (completed | failed | timeout); times must be aware.
    An execution from an unknown account is still recorded, flagged in its text.
    """
    if status not in ROBOT_STATUSES:
        raise ValueError(f"unknown execution status {status!r}")
    if duration is None and end_time is not None:
        duration = (end_time - start_time).total_seconds()

    try:
        with transaction.atomic(), events.batch():
            log = _write(
                shadow_bot_account=shadow_bot_account,
                app_name=app_name,
                status=status,
                start_time=start_time,
                end_time=end_time,
                duration=duration,
                result_summary=result_summary,
                log_info=log_info,
                screenshot=screenshot,
                screenshot_url=screenshot_url,
                log_url=log_url,
                host_ip=host_ip,
                execution_id=execution_id,
            )
    except IntegrityError:
        # The insert is the transaction's first write, so the rollback undid nothing else and the
        # on-commit events were discarded with it. Answer with the log that won.
        original = _original(
            shadow_bot_account=shadow_bot_account,
            app_name=app_name,
            start_time=start_time,
            execution_id=execution_id,
        )
        if original is None:  # the conflict was something else: do not hide it
            raise
        logger.info("repeat delivery of execution %s ignored", original.pk)
        return original, False
    return log, True


def _write(
    *,
    shadow_bot_account: str,
    app_name: str,
    status: str,
    start_time: datetime,
    end_time: datetime | None,
    duration: float | None,
    result_summary: dict[str, Any] | None,
    log_info: bool,
    screenshot: bool,
    screenshot_url: str | None,
    log_url: str | None,
    host_ip: str | None,
    execution_id: str | None,
) -> ExecutionLog:
    """The writes of `record_execution`, inside its transaction: log first, then account and task.

    Inserting the log first makes a repeat fail before anything else is written, with no savepoint.
    """
    task = Task.objects.match_robot(shadow_bot_account, app_name, host_ip)
    account = task.account if task is not None else match_account(shadow_bot_account, host_ip)
    log = ExecutionLog(
        text=summarise(
            app_name=app_name,
            robot_status=status,
            result_summary=result_summary,
            account_known=account is not None,
            task_known=task is not None,
            shadow_bot_account=shadow_bot_account,
        ),
        app_name=app_name,
        shadow_bot_account=shadow_bot_account,
        host_ip=host_ip or (account.host_ip if account is not None else None),
        status=ROBOT_STATUSES[status],
        start_time=start_time,
        end_time=end_time,
        duration=duration,
        log_info=log_info,
        screenshot=screenshot,
        screenshot_path=screenshot_url or None,
        log_content=log_url or None,
        result_summary=result_summary,
        execution_id=execution_id or None,
        account=account,
        task=task,
    )
    log.save(force_insert=True)

    if account is not None:
        before = events.snapshot(account, ACCOUNT_FIELDS)
        account.record_result(status=log.status, app_name=app_name, end_time=end_time or start_time)
        account.save(update_fields=[*ACCOUNT_FIELDS, "updated_at"])
        events.publish_account_updated(account, events.changed(before, account))
    if task is not None:
        before = events.snapshot(task, TASK_FIELDS)
        task.status = TaskStatus.PENDING
        task.last_run_time = start_time
        task.save(update_fields=[*TASK_FIELDS, "updated_at"])
        events.publish_task_updated(task, events.changed(before, task))
    events.publish_log_created(log)
    alert_sources.execution_failed(log, status)
    return log
