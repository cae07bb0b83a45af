"""The stop outbox: stops recorded with their transition and sent later by the dispatcher.

An admin bulk stop or force stop, and a run timeout, change the job in the request's (or the
sweep's) own short transaction and, in that same transaction, record the stop as a
ControlRequest in outcome `queued`. The dispatcher's pass (`send_pending`) claims each row with a
conditional update (`queued → pending`), so several dispatchers never send one twice, and sends
it in its thread pool, outside any transaction; the outcome is written on the row. So a request
never waits on N backend calls, and one slow robot holds up only its own pool thread.

While a robot has an unsent stop (queued, or claimed and being sent), it gets no new START
(`jobs.queue.claim`): the relay's stop is `target=ALL` and would end that next run too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs import audit, backends, transitions
from jobs.backends import BackendNotConfigured, DispatchOutcome
from jobs.models import BUSY, Job, JobReason, JobStatus
from tasks.models import ControlAction, ControlOutcome, ControlRequest

logger = logging.getLogger(__name__)

STOP_ACTIONS = (ControlAction.STOP, ControlAction.FORCE_STOP)
UNSENT = (ControlOutcome.QUEUED, ControlOutcome.PENDING)
SEND_BATCH = 500


def queue_stop(job: Job, *, source: str, user=None, action: str = ControlAction.STOP) -> ControlRequest:
    """Record the job's stop for the dispatcher (inside the caller's transaction)."""
    transitions._require_transaction()
    return audit.record(action=action, target="ALL", source=source, job=job, user=user, outcome=ControlOutcome.QUEUED)


def deliver_stop(job: Job) -> DispatchOutcome:
    """The backend's stop for `job`, outside any transaction; never raises for its failures."""
    try:
        return backends.call(backends.get_backend(job.backend), "stop", job)
    except BackendNotConfigured as exc:
        return DispatchOutcome(ok=False, message=exc.message, error=exc.message)


def send_stop_now(job: Job, *, source: str, user, action: str = ControlAction.STOP):
    """Record and send a stop here and now (the API's single stop, whose outcome is the answer)."""
    request = audit.record(action=action, target="ALL", source=source, job=job, user=user)
    outcome = deliver_stop(job)
    audit.store_outcome(request, outcome)
    return request, outcome


def accounts_with_unsent_stop(account_ids: list, *, now: datetime) -> set:
    """Which of these robots have a stop not yet delivered, in one query (a claimed one counts
    for as long as a send can take, so a dispatcher that died mid-send does not block the robot
    for ever)."""
    recent = now - timedelta(seconds=settings.RPA_RELAY_TIMEOUT + 60)
    return set(
        ControlRequest.objects.filter(
            Q(outcome=ControlOutcome.QUEUED) | Q(outcome=ControlOutcome.PENDING, created_at__gte=recent),
            job__account_id__in=account_ids,
            action__in=STOP_ACTIONS,
        )
        .values_list("job__account_id", flat=True)
        .distinct()
    )


def claim(request_id) -> bool:
    """queued → pending, once: of several dispatchers, exactly one wins each row."""
    return bool(
        ControlRequest.objects.filter(pk=request_id, outcome=ControlOutcome.QUEUED).update(outcome=ControlOutcome.PENDING)
    )


def send(request_id) -> None:
    """Send one claimed stop and record its outcome; a run timeout's job then ends failed."""
    from jobs import dispatcher, timeouts

    request = ControlRequest.objects.select_related("job__account", "job__task").get(pk=request_id)
    job = request.job
    if job is None or (request.action == ControlAction.STOP and job.status not in BUSY):
        # Ended meanwhile (the robot's report came first): a stop now would hit its next run.
        request.outcome, request.error = ControlOutcome.SKIPPED, "the job had already ended; no stop sent"
        request.save(update_fields=["outcome", "error"])
    else:
        outcome = deliver_stop(job)
        audit.store_outcome(request, outcome)
        if job.status == JobStatus.STOPPING and job.reason == JobReason.RUN_TIMEOUT:
            timeouts.finish_run_timeout(job, outcome=outcome, now=timezone.now())
    dispatcher.kick()  # the robot may take its next job now


def _send_logged(request_id) -> None:
    try:
        send(request_id)
    except Exception:
        logger.exception("dispatcher: sending stop %s failed", request_id)


def send_pending() -> list[str]:
    """Claim every queued stop and send each in the dispatcher's pool; returns the claimed ids."""
    from jobs import dispatcher

    queued = ControlRequest.objects.filter(outcome=ControlOutcome.QUEUED, action__in=STOP_ACTIONS)
    claimed = []
    for request_id in list(queued.order_by("created_at").values_list("pk", flat=True)[:SEND_BATCH]):
        if claim(request_id):
            claimed.append(str(request_id))
            dispatcher.run_in_pool(_send_logged, request_id)
    return claimed
