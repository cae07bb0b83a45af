"""Recording a finished execution (the execution-complete webhook, API.md §5).

`record_execution` is the one workflow: in one transaction it writes the log and hands it to
`jobs.reports`, which ends the matching job (and so sets the task's and account's status).
`create_log` is the one function that writes an execution log. The database
decides idempotency (the unique constraints on ExecutionLog), so two concurrent deliveries of the
same execution produce one log: the loser's insert (the transaction's first write) fails, its
transaction rolls back, and it answers with the winner's log, having written nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction

from accounts import presence
from accounts.models import Account
from executionlogs.models import ExecutionLog, ExecutionStatus
from rpa_workbench import events
from tasks.models import Task

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
    outputs: dict[str, Any] | None = None,
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
                outputs=outputs,  # io: the job's outputs (API.md §11)
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
        if original.account_id is not None:
            with transaction.atomic():  # a repeat is a sign of life all the same
                presence.record_contact(account_id=original.account_id)
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
    outputs: dict[str, Any] | None = None,
) -> ExecutionLog:
    """The writes of `record_execution`, inside its transaction: log first, then account and task.

    Inserting the log first makes a repeat fail before anything else is written, with no savepoint.
    """
    task = Task.objects.match_robot(shadow_bot_account, app_name, host_ip)
    account = task.account if task is not None else Account.objects.match_robot(shadow_bot_account, host_ip)
    log = create_log(
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
    # The job, task and account move in this same transaction (jobs.reports decides how).
    from jobs import reports

    reports.attach_report(
        log=log, task=task, account=account, robot_status=status, execution_id=execution_id, outputs=outputs  # io
    )
    if account is not None:
        # In this transaction: a write of its own would wait outside the writers' queue.
        presence.record_contact(account_id=account.pk)
    return log


def create_log(**fields: Any) -> ExecutionLog:
    """The one writer of execution logs (robot reports and the jobs' lost/timed-out runs alike):
    inserts the row (its first write, so a repeat fails before anything else) and publishes
    `log_created` after commit."""
    log = ExecutionLog(**fields)
    log.save(force_insert=True)
    events.publish_log_created(log)
    return log
