"""Every move of a queue item (API.md §13), each a compare-and-set on its status, and the
workflows the API, the robot endpoints, the admin and the worker share: add, take, result,
retry, delete, abandon.

A failure that may be retried (an application failure, an abandoned item) is followed in the
same transaction by its retry: a new `new` item (`retry_of`, `retry_number` + 1, `defer_until` =
now + the queue's `retry_delay_seconds`) while `retry_number < max_retries`; otherwise — and for
every business failure — it has failed for good and `queue_item_failed` is raised. With
`unique_references`, the reference moves to the retry, so the database's unique index keeps
one holder per reference.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework import status as http

from accounts.models import Account
from alerts.models import AlertEvent
from alerts.services import raise_alert
from jobs.models import BUSY, Job
from rpa_workbench.errors import ApiError, Conflict
from tasks.models import PRIORITY_RANK
from workqueues import changes
from workqueues.counting import ready_filter
from workqueues.models import NO_DUE_DATE, ErrorType, ItemStatus, QueueItem, WorkQueue

logger = logging.getLogger(__name__)

MAX_BULK = 1000


def not_found(what: str) -> ApiError:
    return ApiError(http.HTTP_404_NOT_FOUND, "NOT_FOUND", f"{what} not found")


def duplicate(references: list[str]) -> Conflict:
    shown = ", ".join(references[:10]) + (" …" if len(references) > 10 else "")
    return Conflict("DUPLICATE_REFERENCE", f"reference already in the queue: {shown}", references=references[:100])


# -- add -----------------------------------------------------------------------------------------
def _new_item(queue: WorkQueue, spec: dict[str, Any], now: datetime, **extra: Any) -> QueueItem:
    reference = spec.get("reference") or ""
    due_at = spec.get("due_at")
    return QueueItem(
        queue=queue,
        reference=reference,
        unique_reference=(reference or None) if queue.unique_references else None,
        priority=spec["priority"],
        priority_rank=PRIORITY_RANK[spec["priority"]],
        payload=spec.get("payload") or {},
        defer_until=spec.get("defer_until"),
        due_at=due_at,
        sort_due_at=due_at or NO_DUE_DATE,
        created_at=now,
        **extra,
    )


def taken_references(queue: WorkQueue, references: list[str]) -> set[str]:
    """Which of `references` an item of the queue holds already (unique_references)."""
    found: set[str] = set()
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        found.update(QueueItem.objects.filter(queue=queue, unique_reference__in=chunk).values_list("unique_reference", flat=True))
    return found


def add_items(*, queue: WorkQueue, specs: list[dict[str, Any]], now: datetime | None = None,
              limit: int = MAX_BULK) -> list[QueueItem]:
    """Add validated items (workqueues.validation.ItemInSerializer), all or none: 409
    DUPLICATE_REFERENCE when the queue wants unique references and one is taken (in the batch
    or by an item in any status but deleted)."""
    if len(specs) > limit:
        raise ApiError(400, "VALIDATION_ERROR", f"items: at most {limit} items at once, got {len(specs)}")
    now = now or timezone.now()
    items = [_new_item(queue, spec, now) for spec in specs]
    if queue.unique_references:
        wanted = [item.unique_reference for item in items if item.unique_reference]
        repeated = sorted({ref for ref in wanted if wanted.count(ref) > 1}) if len(set(wanted)) < len(wanted) else []
        if repeated:
            raise duplicate(repeated)
        taken = sorted(taken_references(queue, wanted))
        if taken:
            raise duplicate(taken)
    try:
        with transaction.atomic():
            if not WorkQueue.objects.filter(pk=queue.pk).exists():
                raise not_found(f"queue {queue.pk}")
            QueueItem.objects.bulk_create(items, batch_size=500)
            changes.mark_changed(queue.pk)
    except IntegrityError:  # a reference taken meanwhile by a concurrent add
        raise duplicate([item.reference for item in items if item.unique_reference][:10]) from None
    return items


# -- take ----------------------------------------------------------------------------------------
def _claim_sql() -> str:
    """One statement: the next ready item, by priority, then due date (none last), then age,
    becomes in_progress. PostgreSQL locks the chosen row and skips rows other takes hold
    (FOR UPDATE SKIP LOCKED: several servers never hand out one item twice, nor wait on each
    other); SQLite runs the statement inside its one writer's lock."""
    table = connection.ops.quote_name(QueueItem._meta.db_table)
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (
        f"UPDATE {table} SET status = %s, started_at = %s, account_id = %s, job_id = %s "
        f"WHERE id = (SELECT id FROM {table} WHERE queue_id = %s AND status = %s "
        f"AND (defer_until IS NULL OR defer_until <= %s) "
        f"ORDER BY priority_rank, sort_due_at, created_at, id LIMIT 1{lock}) RETURNING id"
    )


def _db_value(value):
    """A parameter as Django writes it (SQLite keeps datetimes as UTC text, UUIDs as hex)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if value is not None and hasattr(value, "hex") and connection.vendor == "sqlite":
        return value.hex
    return value


def running_job_id(account: Account, *, app_name: str | None, queue: WorkQueue):
    """The robot's running job the item is taken for: of the app named, else of the queue's task."""
    jobs = Job.objects.filter(account=account, status__in=BUSY)
    if app_name:
        jobs = jobs.filter(app_name__iexact=app_name)
    elif queue.task_id:
        jobs = jobs.filter(task_id=queue.task_id)
    return jobs.order_by("-created_at").values_list("pk", flat=True).first()


def take_next(*, queue_name: str, shadow_bot_account: str, app_name: str | None = None,
              now: datetime | None = None) -> QueueItem | None:
    """The next ready item of the queue, now in progress for this robot (and its running job); None
    when none is ready. 404 for an unknown queue or robot."""
    now = now or timezone.now()
    queue = WorkQueue.objects.filter(name=queue_name).first()
    if queue is None:
        raise not_found(f"queue {queue_name}")
    account = Account.objects.filter(shadow_bot_account=shadow_bot_account).order_by("created_at").first()
    if account is None:
        raise not_found(f"robot account {shadow_bot_account}")
    job_id = running_job_id(account, app_name=app_name, queue=queue)
    params = [ItemStatus.IN_PROGRESS, now, account.pk, job_id, queue.pk, ItemStatus.NEW, now]
    for _ in range(3):  # PostgreSQL: the chosen row may have been taken between read and lock
        with connection.cursor() as cursor:
            cursor.execute(_claim_sql(), [_db_value(value) for value in params])
            row = cursor.fetchone()
        if row is not None:
            changes.mark_changed(queue.pk)
            return QueueItem.objects.select_related("queue").get(pk=row[0])
        if not QueueItem.objects.filter(ready_filter(now), queue=queue).exists():
            return None
    return None


# -- results, retries, abandonment -------------------------------------------------------------------
def _retry_copy(item: QueueItem, queue: WorkQueue, now: datetime, *, defer: bool) -> QueueItem:
    """The item's retry, in the caller's transaction; the reference moves to it."""
    holder = item.unique_reference
    if holder:
        QueueItem.objects.filter(pk=item.pk).update(unique_reference=None)
    retry = _new_item(
        queue,
        {"reference": item.reference, "priority": item.priority, "payload": item.payload, "due_at": item.due_at,
         "defer_until": now + timedelta(seconds=queue.retry_delay_seconds) if defer else None},
        now, retry_of=item, retry_number=item.retry_number + 1,
    )
    retry.unique_reference = holder
    retry.save(force_insert=True)
    return retry


def _failed_for_good(item: QueueItem, queue: WorkQueue, now: datetime) -> None:
    raise_alert(
        event=AlertEvent.QUEUE_ITEM_FAILED,
        task=queue.task,
        account=item.account,
        job=item.job,
        now=now,
        details={
            "queue": queue.name, "queue_id": str(queue.pk), "item_id": str(item.pk), "reference": item.reference,
            "error_type": item.error_type, "reason": item.error_message[:300] or item.status,
        },
    )


def after_failure(item: QueueItem, now: datetime) -> QueueItem | None:
    """An item just failed or was abandoned (inside that transaction): its retry, or the alert."""
    queue = item.queue
    if item.error_type != ErrorType.BUSINESS and item.retry_number < queue.max_retries:
        return _retry_copy(item, queue, now, defer=True)
    _failed_for_good(item, queue, now)
    return None


def _move(item: QueueItem, new: str, *, now: datetime, **fields: Any) -> bool:
    """The compare-and-set: in_progress → `new`. False when the item was no longer in progress."""
    moved = QueueItem.objects.filter(pk=item.pk, status=ItemStatus.IN_PROGRESS).update(
        status=new, finished_at=now, **fields
    )
    if moved:
        item.status, item.finished_at = new, now
        for name, value in fields.items():
            setattr(item, name, value)
        changes.mark_changed(item.queue_id)
    return bool(moved)


def record_result(*, item_id, status: str, output: dict | None = None, error_type: str | None = None,
                  error_message: str = "", now: datetime | None = None) -> tuple[QueueItem, bool]:
    """A robot's result → (item, changed). A repeat of the result already recorded changes
    nothing; a result for an item not in progress is 409 ITEM_NOT_IN_PROGRESS."""
    now = now or timezone.now()
    with transaction.atomic():
        item = QueueItem.objects.select_related("queue__task__account", "account", "job").filter(pk=item_id).first()
        if item is None:
            raise not_found(f"queue item {item_id}")
        fields: dict[str, Any] = {"output": output, "error_type": error_type, "error_message": error_message}
        if _move(item, status, now=now, **fields):
            if status == ItemStatus.FAILED:
                after_failure(item, now)
            return item, True
    item.refresh_from_db()
    if item.status == status and (status == ItemStatus.SUCCESSFUL or item.error_type == error_type):
        return item, False
    raise Conflict("ITEM_NOT_IN_PROGRESS", f"queue item {item.pk} is {item.status}, not in progress")


def abandon(item: QueueItem, *, now: datetime, message: str) -> bool:
    """in_progress → abandoned, retried like an application failure (inside the caller's transaction)."""
    if not _move(item, ItemStatus.ABANDONED, now=now, error_type=ErrorType.APPLICATION, error_message=message):
        return False
    after_failure(item, now)
    return True


# -- operators' retry and delete ----------------------------------------------------------------------
def retry_item(*, item: QueueItem, now: datetime | None = None) -> QueueItem:
    """A failed or abandoned item → a new `new` item (`retry_of`, `retry_number` + 1), at once."""
    now = now or timezone.now()
    with transaction.atomic():
        if connection.features.has_select_for_update:
            item = QueueItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
        else:
            item = QueueItem.objects.select_related("queue").get(pk=item.pk)
        if item.status not in (ItemStatus.FAILED, ItemStatus.ABANDONED):
            raise Conflict("ITEM_NOT_RETRYABLE", f"queue item {item.pk} is {item.status}; only failed or abandoned items are retried")
        if item.retries.exists():
            raise Conflict("ITEM_ALREADY_RETRIED", f"queue item {item.pk} was retried already")
        retry = _retry_copy(item, item.queue, now, defer=False)
        changes.mark_changed(item.queue_id)
    return retry


def delete_item(*, item: QueueItem, now: datetime | None = None) -> QueueItem:
    """A `new` item → deleted (its reference is free again); otherwise 409 ITEM_NOT_NEW."""
    now = now or timezone.now()
    moved = QueueItem.objects.filter(pk=item.pk, status=ItemStatus.NEW).update(
        status=ItemStatus.DELETED, finished_at=now, unique_reference=None
    )
    if not moved:
        item.refresh_from_db()
        raise Conflict("ITEM_NOT_NEW", f"queue item {item.pk} is {item.status}; only new items are deleted")
    changes.mark_changed(item.queue_id)
    item.refresh_from_db()
    return item
