"""Applying what Yingdao says about a job (callbacks, job/query answers) to our job.

Every change goes through `jobs.transitions` (compare-and-set, so repeats and out-of-order
reports change nothing twice), and a job's end is written by `jobs.reports.record_execution`,
the function the execution-complete webhook uses, with `execution_id` = our job id (so it attaches to exactly this job, and a repeat returns the original log).

A callback for a jobUuid no job carries yet is kept as a `PendingCallback`: its job/start may be
in flight (the answer with the jobUuid not stored yet). `adopt` stores the jobUuid and applies
them; the receiver re-checks after storing, so whichever side comes second applies it, once
(a pending row is applied by whoever deletes it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts import presence
from jobs import outputs as job_outputs
from jobs import pool_runs, transitions
from jobs.models import ACTIVE, BUSY, Job, JobStatus
from jobs.reports import record_execution
from yingdao.callbacks import CallbackError, JobReport, parse_callback, summarise_outputs
from yingdao.client import YingdaoError
from yingdao.models import PendingCallback

logger = logging.getLogger(__name__)

BACKEND = "yingdao"
PENDING_KEPT = timedelta(days=1)
# Callbacks kept per jobUuid no job carries yet (the newest; Yingdao repeats a callback up to
# 24 times), and in all: the secret sits in a URL Yingdao holds, so storage stays bounded.
PENDING_PER_JOB = 5
PENDING_TOTAL = 10_000
# Our job status → the robot's word for record_execution.
REPORTED_AS = {JobStatus.COMPLETED: "completed", JobStatus.FAILED: "failed"}


@dataclass(frozen=True)
class Applied:
    job_uuid: str
    job_id: str | None
    status: str | None  # the job's status afterwards
    outcome: str  # what happened, for the answer and the log


def find_job(job_uuid: str) -> Job | None:
    return Job.objects.select_related("task", "account").filter(backend=BACKEND, external_id=job_uuid).first()


def _fresh(job: Job) -> Job:
    return Job.objects.select_related("task", "account").get(pk=job.pk)


def with_details(job: Job, report: JobReport) -> JobReport:
    """An ending report lacking times, screenshot or outputs, completed by one job/query
    (outside any transaction); the callback's own values win. Unchanged when the query fails."""
    if report.outputs is not None and report.screenshot_url and report.start_time:
        return report
    from yingdao.backend import backend

    try:
        queried = backend.query(job)
    except YingdaoError as exc:
        logger.warning("yingdao job/query for the details of %s failed: %s", report.job_uuid, exc.message)
        return report
    return replace(
        report,
        start_time=report.start_time or queried.start_time,
        end_time=report.end_time or queried.end_time,
        screenshot_url=report.screenshot_url or queried.screenshot_url,
        outputs=report.outputs if report.outputs is not None else queried.outputs,
        remark=report.remark or queried.remark,
        robot_client_name=report.robot_client_name or queried.robot_client_name,
    )


def apply_report(job: Job, report: JobReport, *, details: bool = True) -> Applied:
    """Move `job` as `report` says, if it still can; never raises for a move that lost."""
    now = timezone.now()
    if report.status is None:
        return _applied(job, report, f"Yingdao status {report.raw_status!r} is not one we know: nothing changed")
    if report.robot_client_name and job.any_robot and job.pool_id:
        # A group start (API.md §12): Yingdao picked the robot; the job records the one that ran it.
        if pool_runs.record_robot_by_yingdao_name(job, report.robot_client_name, now=now):
            job = _fresh(job)
    if job.account_id:
        presence.record_contact(account_id=job.account_id, when=now)
    if report.status == JobStatus.DISPATCHED:
        return _applied(job, report, "Yingdao has the job queued: nothing to change")
    if report.status == JobStatus.RUNNING:
        with transaction.atomic():
            moved = transitions.confirm_running(job, now=now)
        if moved is None and job.task_id and job.status in BUSY:
            # Yingdao robots send no heartbeats: Yingdao saying "still running" is the sign of life
            # the lost-contact watchdog reads (reconciliation asks at least every few minutes).
            transitions.record_seen(job, now=now)
        return _applied(job, report, "running" if moved else f"already {job.status}: nothing changed")
    if report.status == JobStatus.STOPPED:
        with transaction.atomic():
            moved = transitions.stopped(job, now=now, expected=list(BUSY))
        return _applied(_fresh(job), report, "stopped" if moved else f"already {job.status}: nothing changed")
    return _finish(job, report, details=details)


def _finish(job: Job, report: JobReport, *, details: bool) -> Applied:
    if job.execution_log_id is not None or job.status not in ACTIVE:
        return _applied(job, report, f"already {job.status}: nothing changed")
    if details:
        report = with_details(job, report)
    start = report.start_time or job.started_at or job.dispatched_at or job.created_at
    end = report.end_time if report.end_time and report.end_time >= start else None
    summary = summarise_outputs(report.outputs) or {}
    if report.status == JobStatus.FAILED and report.remark and "error_message" not in summary:
        summary["error_message"] = report.remark
    log, created = record_execution(
        shadow_bot_account=job.shadow_bot_account,
        app_name=job.app_name,
        host_ip=job.host_ip or None,
        status=REPORTED_AS[report.status],
        start_time=start,
        end_time=end,
        result_summary=summary or None,
        screenshot=bool(report.screenshot_url),
        screenshot_url=report.screenshot_url or None,
        execution_id=str(job.pk),
        outputs=job_outputs.from_yingdao(report.outputs, job_uuid=report.job_uuid),  # io: API.md §11
    )
    job = _fresh(job)
    return _applied(job, report, f"{job.status}: execution log {log.pk}" + ("" if created else " (already recorded)"))


def _applied(job: Job, report: JobReport, outcome: str) -> Applied:
    return Applied(job_uuid=report.job_uuid, job_id=str(job.pk), status=job.status, outcome=outcome)


def receive(body: dict) -> list[Applied]:
    """The callback webhook's workflow: every job report in `body`, applied or kept pending."""
    results = []
    for report in parse_callback(body):
        job = find_job(report.job_uuid)
        if job is None:
            keep_pending(report)
            job = find_job(report.job_uuid)  # its start may have stored the id meanwhile
            if job is None:
                results.append(Applied(report.job_uuid, None, None, "no job with this jobUuid (yet): nothing changed"))
                continue
            results.extend(apply_pending(job))
            continue
        results.append(apply_report(job, report))
    return results


def keep_pending(report: JobReport) -> None:
    """Store this job's own entry (never the whole body) until its job is known: at most
    PENDING_PER_JOB per jobUuid (older ones dropped) and PENDING_TOTAL in all (then nothing more
    is kept: reconciliation's job/query still finds the job's state); rows older than
    PENDING_KEPT expire."""
    prune_pending()  # expired rows go at every write, whether or not any job is busy
    if PendingCallback.objects.count() >= PENDING_TOTAL:
        logger.warning("yingdao callback for unknown job %s not kept: %d pending already", report.job_uuid, PENDING_TOTAL)
        return
    PendingCallback.objects.create(job_uuid=report.job_uuid, body=report.as_entry())
    newest = PendingCallback.objects.filter(job_uuid=report.job_uuid).order_by("-received_at", "-id")
    kept = list(newest.values_list("pk", flat=True)[:PENDING_PER_JOB])
    PendingCallback.objects.filter(job_uuid=report.job_uuid).exclude(pk__in=kept).delete()


def adopt(job: Job, job_uuid: str) -> list[Applied]:
    """job/start answered `job_uuid`: store it (once) and apply the callbacks that came first."""
    with transaction.atomic():
        transitions.store_external_id(job, job_uuid)
    job.external_id = job_uuid
    return apply_pending(job)


def apply_pending(job: Job) -> list[Applied]:
    results = []
    for row in PendingCallback.objects.filter(job_uuid=job.external_id).order_by("received_at", "id"):
        if not PendingCallback.objects.filter(pk=row.pk).delete()[0]:
            continue  # another process applies it
        try:
            reports = [r for r in parse_callback(row.body) if r.job_uuid == job.external_id]
        except CallbackError:
            continue
        for report in reports:
            results.append(apply_report(_fresh(job), report))
    return results


def prune_pending(now=None) -> int:
    """Callbacks no job claimed within a day are not ours: drop them."""
    now = now or timezone.now()
    return PendingCallback.objects.filter(received_at__lt=now - PENDING_KEPT).delete()[0]
