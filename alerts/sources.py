"""Where today's code raises alerts: one function per source, each called with one line from the
transaction of the change it reports (the change itself is already a compare-and-set there, so
each alert is raised once per change of state).

Run outcomes come from job transitions once the jobs app is installed (`job_transition`, a
`jobs.transitions.HOOKS` hook registered by AlertsConfig.ready); until then, stand-ins:
- `execution_failed`: a robot's failed/timeout execution report (the log insert is idempotent);
- `robot_lost`: the watchdog marking a silent running task lost;
- `dispatch_failed`: a START the relay did not accept.
Always:
- `presence_flipped`: robot_offline / robot_online from accounts/presence.py's flips;
- `schedule_skipped`: the first of a streak of skipped scheduled starts (a task busy for an hour
  on a per-minute schedule alerts once, not sixty times).
"""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from alerts.models import AlertEvent
from alerts.services import raise_alert

# How a job's end maps to an alert (API.md §9 reasons): (new status, reason) → event.
JOB_END_EVENTS = {
    ("failed", "run_timeout"): AlertEvent.JOB_STOPPED_BY_TIMEOUT,
    ("failed", "lost_contact"): AlertEvent.ROBOT_LOST,
    ("failed", "dispatch_failed"): AlertEvent.DISPATCH_FAILED,
    ("cancelled", "wait_timeout"): AlertEvent.QUEUE_WAIT_EXCEEDED,
}


def jobs_raise_run_alerts() -> bool:
    """Once the jobs app is installed, run outcomes are alerted from job transitions
    (`job_transition`) and the stand-ins below stand down, so nothing alerts twice."""
    return apps.is_installed("jobs")


def job_transition(transition) -> None:
    """A `jobs.transitions.HOOKS` hook, inside the transaction of the job's compare-and-set: a
    job ending `failed` (by its reason) or cancelled for its wait timeout alerts once."""
    new, reason = transition.new, transition.reason
    if new == transition.old:
        return
    event = JOB_END_EVENTS.get((new, reason))
    if event is None and new == "failed":
        event = AlertEvent.JOB_FAILED
    if event is None:
        return
    raise_alert(event=event, job=transition.job, details={"reason": reason})


def execution_failed(log, robot_status: str) -> None:
    """In `record_execution`'s transaction, after the log is inserted."""
    if log.status != "failed" or jobs_raise_run_alerts():
        return
    reason = "robot_reported_timeout" if robot_status == "timeout" else "robot_reported_failure"
    raise_alert(
        event=AlertEvent.JOB_FAILED,
        account=log.account,
        task=log.task,
        details={
            "reason": reason,
            "log_id": str(log.pk),
            "shadow_bot_account": log.shadow_bot_account,
            "app_name": log.app_name,
        },
    )


def robot_lost(task, log) -> None:
    """In the watchdog's transaction, after its claim marked the task lost."""
    if jobs_raise_run_alerts():
        return
    raise_alert(event=AlertEvent.ROBOT_LOST, task=task, details={"reason": "lost_contact", "log_id": str(log.pk)})


def dispatch_failed(task, request, reason: str) -> None:
    """After the relay refused a START (recorded on `request`); its own small transaction,
    since the start itself runs outside one (no network call inside a transaction)."""
    if jobs_raise_run_alerts():
        return
    with transaction.atomic():
        raise_alert(
            event=AlertEvent.DISPATCH_FAILED,
            task=task,
            details={"reason": f"dispatch_failed: {reason}", "control_request_id": str(request.pk)},
        )


def schedule_skipped(task, request) -> None:
    """In the transaction recording the skip (`request`); only the first skip in a row alerts."""
    from tasks.models import ControlOutcome, ControlSource

    previous = (
        task.control_requests.filter(source=ControlSource.SCHEDULER)
        .exclude(pk=request.pk)
        .order_by("-created_at")
        .values_list("outcome", flat=True)
        .first()
    )
    if previous == ControlOutcome.SKIPPED:
        return
    raise_alert(event=AlertEvent.SCHEDULE_SKIPPED, task=task, details={"reason": request.error})


def presence_flipped(account, *, before: str, after: str, now) -> None:
    """In the transaction of a presence flip (accounts.presence.announce): online → offline is
    `robot_offline`; offline → online (or busy) is `robot_online`. A robot's first sighting
    (unknown → online) is not an alert."""
    if after == "offline" and before != "offline":
        event = AlertEvent.ROBOT_OFFLINE
    elif before == "offline" and after in ("online", "busy"):
        event = AlertEvent.ROBOT_ONLINE
    else:
        return
    raise_alert(event=event, account=account, details={"presence": after}, now=now)
