"""The audit trail of control messages (API.md §2, §9): one ControlRequest per message sent to a
backend, or refused before sending, linked to its task and job."""

from __future__ import annotations

from tasks.models import ControlOutcome, ControlRequest, ControlSource, Task

# The ControlRequest source of a job's messages.
SOURCE_OF_JOB = {
    "api": ControlSource.API,
    "admin": ControlSource.ADMIN,
    "scheduler": ControlSource.SCHEDULER,
    "intranet": ControlSource.INTRANET,
    "retry": ControlSource.RETRY,
    "robot": ControlSource.DISPATCHER,
    "queue": ControlSource.DISPATCHER,  # a work queue's trigger (workqueues.trigger)
}


def record(  # `requested_by_id`: the requester when no `user` is at hand (a job's, not loaded)
    *,
    action: str,
    target: str,
    source: str,
    task: Task | None = None,
    job=None,
    user=None,
    requested_by_id=None,
    outcome: str = ControlOutcome.PENDING,
    error: str = "",
    shadow_bot_account: str = "",
    host_ip: str = "",
    port: int | None = None,
    app_name: str = "",
) -> ControlRequest:
    if task is None and job is not None and job.task_id:
        task = job.task
    if task is not None:
        account = task.account
        shadow_bot_account, host_ip, port, app_name = account.shadow_bot_account, account.host_ip, account.port, task.app_name
    elif job is not None:
        shadow_bot_account, host_ip, app_name = job.shadow_bot_account, job.host_ip, job.app_name
        port = job.account.port if job.account_id else port
    return ControlRequest.objects.create(
        task=task,
        job=job,
        shadow_bot_account=shadow_bot_account,
        host_ip=host_ip,
        port=port,
        app_name=app_name,
        action=action,
        target=target,
        source=source,
        requested_by_id=user.pk if getattr(user, "is_authenticated", False) else requested_by_id,
        outcome=outcome,
        error=error,
    )


def store_outcome(request: ControlRequest, outcome) -> None:
    """Write a backend's DispatchOutcome onto its request."""
    request.outcome = ControlOutcome.SENT if outcome.ok else ControlOutcome.FAILED
    request.error = "" if outcome.ok else (outcome.error or outcome.message)
    request.relay_url = outcome.url
    request.response_status = outcome.response_status
    request.latency_ms = outcome.latency_ms
    request.save(update_fields=["outcome", "error", "relay_url", "response_status", "latency_ms"])
