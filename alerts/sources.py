"""Where alerts are raised: one function per source, each called from the transaction of the
change it reports (the change itself is a compare-and-set there, so each alert is raised once per
change of state):
- `job_transition`: job ends (a `jobs.transitions.HOOKS` hook, registered by AlertsConfig.ready);
- `presence_flipped`: robot_offline / robot_online from accounts/presence.py's flips;
- `schedule_skipped`: the first of a streak of skipped scheduled starts (a task busy for an hour
  on a per-minute schedule alerts once, not sixty times).
"""

from __future__ import annotations

from alerts.models import AlertEvent
from alerts.services import raise_alert

# How a job's end maps to an alert (API.md §9 reasons): (new status, reason) → event.
JOB_END_EVENTS = {
    ("failed", "run_timeout"): AlertEvent.JOB_STOPPED_BY_TIMEOUT,
    ("failed", "lost_contact"): AlertEvent.ROBOT_LOST,
    ("failed", "dispatch_failed"): AlertEvent.DISPATCH_FAILED,
    ("cancelled", "wait_timeout"): AlertEvent.QUEUE_WAIT_EXCEEDED,
}


CAUSE_MAX_CHARS = 300


def job_cause(job) -> str | None:
    """Why the job ended, as its own message says (e.g. "relay unreachable: connection
    refused"), else as the robot reported it (its log's `error_message`)."""
    cause = getattr(job, "message", "") or ""
    if not cause and getattr(job, "execution_log_id", None):
        summary = job.execution_log.result_summary or {}
        cause = str(summary.get("error_message") or "") if isinstance(summary, dict) else ""
    return cause[:CAUSE_MAX_CHARS] or None


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
    cause = job_cause(transition.job)
    raise_alert(event=event, job=transition.job, details={"reason": reason, "cause": cause})


def schedule_skipped(task, request) -> None:
    """A hook of jobs.scheduler.SKIP_HOOKS, in the transaction recording the skip (`request`);
    only the first skip in a row alerts."""
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


def presence_flipped(flip, now) -> None:
    """A hook of accounts.presence.FLIP_HOOKS, in the transaction of a presence flip
    (`accounts.presence.Flip`): online → offline is `robot_offline`; offline → online (or busy)
    is `robot_online`. A robot's first sighting (unknown → online) is not an alert."""
    account, before, after = flip.account, flip.before, flip.after
    if after == "offline" and before != "offline":
        event = AlertEvent.ROBOT_OFFLINE
    elif before == "offline" and after in ("online", "busy"):
        event = AlertEvent.ROBOT_ONLINE
    else:
        return
    raise_alert(event=event, account=account, details={"presence": after}, now=now)
