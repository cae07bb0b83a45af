"""The scheduler loop: one-shot `trigger_time` starts, recurring cron `schedule` starts, and the
lost-robot watchdog (`jobs.timeouts.check_lost`).

Each pass (`run_once`) finds due work and *claims* it with a conditional UPDATE that only
succeeds while the row still holds the value that was read (`trigger_time = <old>` /
`next_run_at = <old>`). Of several schedulers (the embedded one in each server process, or
`manage.py run_scheduler`) racing for the same task, exactly one claims it, and only that one
starts it, through the normal `jobs.services.start_job` (source `scheduler`, queued: the START
goes through the robot's command outbox). The claim and the job it creates are one transaction
(the account and task locked first, the one lock order), so a crash in between loses nothing:
both roll back and the next pass claims the task again.

- One-shot: the claim clears `trigger_time`, so it fires once.
- Recurring: the claim moves `next_run_at` to the first slot after *now*, so a scheduler that was
  down for several slots starts the task once, not once per missed slot.
- A task already running (or with a start still unconfirmed) when due is not started; the skip is
  recorded as a ControlRequest with outcome `skipped`, and `SKIP_HOOKS` hear of it (the alerts
  app's `schedule_skipped`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from jobs import dispatcher, locks, timeouts
from jobs import services as job_services
from jobs.models import Job
from rpa_workbench import embedded, events
from rpa_workbench.errors import ApiError
from rpa_workbench.timefmt import format_datetime
from tasks import schedules
from tasks.models import PRIORITY_RANK, ControlOutcome, ControlRequest, ControlSource, Task

logger = logging.getLogger(__name__)

# Refusals that mean "not now" rather than "broken": recorded as skips.
SKIP_CODES = {"TASK_ALREADY_RUNNING", "START_PENDING"}

# Called with (task, the ControlRequest recording the skip) inside the transaction of the claim
# that was refused, so what they write commits with it. The alerts app appends its
# `schedule_skipped` in AlertsConfig.ready (it sits above jobs: docs/architecture.md, Layering).
SKIP_HOOKS: list[Callable[[Task, ControlRequest], None]] = []


@dataclass
class Summary:
    """What one pass did, by task id (for logs, the management command and tests)."""

    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.started or self.skipped or self.failed or self.lost)

    def __str__(self) -> str:
        return (
            f"started={len(self.started)} skipped={len(self.skipped)} "
            f"failed={len(self.failed)} lost={len(self.lost)}"
        )


def _announce_skip(task: Task) -> None:
    """The skip was recorded by the refused start; the hooks (the alerts app) decide what it
    means (only the first of a streak alerts)."""
    recorded = (
        ControlRequest.objects.filter(task=task, source=ControlSource.SCHEDULER, outcome=ControlOutcome.SKIPPED)
        .order_by("-created_at")
        .first()
    )
    if recorded is not None and SKIP_HOOKS:
        with transaction.atomic():
            for hook in SKIP_HOOKS:
                hook(task, recorded)


def _start(task_id, summary: Summary, why: str) -> None:
    """Start a task this scheduler has claimed: a job with source `scheduler`, queued for the
    dispatcher (never sent from here: a slow robot must not hold up the scheduler). A task with
    an active job is skipped and the skip recorded."""
    task = Task.objects.select_related("account").filter(pk=task_id).first()
    if task is None:  # deleted between the claim and now
        return
    try:
        job_services.start_job(task=task, source=ControlSource.SCHEDULER, inline=False)
    except ApiError as exc:
        if exc.error_code in SKIP_CODES:
            _announce_skip(task)
            summary.skipped.append(str(task.pk))
            logger.info("scheduler: %s skipped (%s: %s)", task, exc.error_code, why)
        else:
            summary.failed.append(str(task.pk))
            logger.warning("scheduler: %s could not be started: %s %s", task, exc.error_code, exc.message)
        return
    summary.started.append(str(task.pk))
    logger.info("scheduler: %s queued (%s)", task, why)


def _claim_and_start(unclaimed, changed: dict, *, now: datetime, summary: Summary, why: str, start: bool = True) -> None:
    """In one transaction: lock the task (its account first), claim it (`unclaimed`: the task
    while it still holds the values read; updated to `changed`, 0 rows → another scheduler took
    it) and create its job."""
    task_id = unclaimed.values_list("pk", flat=True).first()
    if task_id is None:
        return
    with transaction.atomic():
        try:
            task = locks.lock_task(task_id)
        except Task.DoesNotExist:
            return
        if not unclaimed.update(**changed, updated_at=now):
            return  # another scheduler took it, or someone changed it meanwhile
        task.refresh_from_db(fields=list(changed))
        events.publish_task_updated(task, changed)
        if start:
            _start(task_id, summary, why)


def _start_order(due_field: str) -> tuple:
    """Due tasks by their moment, then priority, then age: each start commits its job on its own,
    and a dispatcher pass may claim a robot's first job before the next exists, so tasks due
    together on one robot start in the order its queue would run them."""
    rank = Case(*[When(priority=name, then=Value(rank)) for name, rank in PRIORITY_RANK.items()],
                default=Value(len(PRIORITY_RANK)), output_field=IntegerField())
    return due_field, rank, "created_at", "pk"


def fire_one_shots(now: datetime, summary: Summary) -> None:
    due = (
        Task.objects.filter(trigger_time__lte=now)
        .order_by(*_start_order("trigger_time"))
        .values_list("pk", "trigger_time")
    )
    for task_id, trigger_time in list(due):
        _claim_and_start(
            Task.objects.filter(pk=task_id, trigger_time=trigger_time),
            {"trigger_time": None},
            now=now,
            summary=summary,
            why=f"one-shot (trigger_time {format_datetime(trigger_time)})",
        )


def _next_slot(task_id, expr: str, tz: str, after: datetime) -> datetime | None:
    """The task's next slot, or None for a stored schedule that has none (saved before the API
    refused such schedules, or written to the database by hand): the task is then never started,
    and each pass says so in one log line, without a traceback."""
    try:
        return schedules.next_run_after(expr, tz, after)
    except schedules.ScheduleError as exc:
        logger.warning("scheduler: task %s is not scheduled: %s (time zone %r)", task_id, exc.message, tz)
        return None


def fire_recurring(now: datetime, summary: Summary) -> None:
    # Scheduled tasks that have no next run yet (created in the admin or the database): set one.
    unset = Task.objects.exclude(schedule="").filter(next_run_at__isnull=True)
    for task_id, expr, tz in list(unset.values_list("pk", "schedule", "schedule_timezone")):
        nxt = _next_slot(task_id, expr, tz, now)
        if nxt and Task.objects.filter(pk=task_id, schedule=expr, next_run_at__isnull=True).update(next_run_at=nxt):
            task = Task.objects.select_related("account").filter(pk=task_id).first()
            if task is not None:
                events.publish_task_updated(task, {"next_run_at": nxt})
    # A schedule removed without clearing its next run must not fire (published: it shows in the list).
    for task in Task.objects.filter(schedule="", next_run_at__isnull=False).select_related("account"):
        with transaction.atomic():
            if Task.objects.filter(pk=task.pk, schedule="", next_run_at__isnull=False).update(next_run_at=None):
                events.publish_task_updated(task, {"next_run_at": None})

    due = (
        Task.objects.exclude(schedule="")
        .filter(next_run_at__lte=now)
        .order_by(*_start_order("next_run_at"))
        .values_list("pk", "schedule", "schedule_timezone", "next_run_at")
    )
    for task_id, expr, tz, slot in list(due):
        # From now, not from the slot: after downtime, all missed slots collapse into this one start.
        nxt = _next_slot(task_id, expr, tz, now)
        _claim_and_start(
            Task.objects.filter(pk=task_id, schedule=expr, next_run_at=slot),
            {"next_run_at": nxt},
            now=now,
            summary=summary,
            why=f"scheduled {expr!r} (slot {format_datetime(slot)})",
            start=nxt is not None,  # unusable expression: logged, never started
        )


def _dispatch(summary: Summary) -> None:
    """Hand the jobs just queued to the dispatcher's pool now, without waiting for slow robots
    (the dispatcher loop would find them within RPA_DISPATCHER_INTERVAL anyway). Sends that
    have finished when this returns and failed are counted as failed starts."""
    try:
        # Waiting for a robot row another transaction holds for a moment (e.g. a racing
        # scheduler's claim of the same task), not skipping it: this pass dispatches its own jobs.
        sent = dispatcher.dispatch_pending(skip_locked=False)
    except Exception:
        logger.exception("scheduler: dispatching failed")
        return
    failed = {str(pk) for pk in Job.objects.filter(pk__in=sent.failed).values_list("task_id", flat=True)}
    summary.started = [pk for pk in summary.started if pk not in failed]
    summary.failed += sorted(failed)


def run_once(now: datetime | None = None) -> Summary:
    """One pass: start due one-shot and recurring tasks, then run the watchdog."""
    now = now or timezone.now()
    summary = Summary()
    for step in (fire_one_shots, fire_recurring):
        try:
            step(now, summary)
        except Exception:
            logger.exception("scheduler: %s failed", step.__name__)
    try:
        summary.lost.extend(timeouts.check_lost(now=now))
    except Exception:
        logger.exception("scheduler: watchdog failed")
    if summary.started:
        _dispatch(summary)
    if summary:
        logger.info("scheduler pass: %s", summary)
    return summary


def run_forever(interval: float | None = None, stop: threading.Event | None = None) -> None:
    """Run passes every `interval` seconds until `stop` is set (never raises out of a pass)."""
    interval = settings.RPA_SCHEDULER_INTERVAL if interval is None else interval
    logger.info("scheduler: heartbeat timeout %ss", settings.RPA_HEARTBEAT_TIMEOUT)
    embedded.repeat(run_once, name="scheduler", interval=interval, stop=stop or threading.Event())
