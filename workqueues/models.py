"""Work queues and their items (API.md §13).

An item's statuses and the moves allowed between them are declared here, once (`TRANSITIONS`);
`workqueues.items` is the only module that moves an item. Layering: this app sits above `jobs`
(it starts jobs through `jobs.services` and listens to job ends through `jobs.transitions.HOOKS`);
nothing below imports it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tasks.models import TaskPriority

MAX_JSON_BYTES = 64 * 1024
MAX_REFERENCE = 128
# Items without a due date sort after every dated one (API.md §13: nulls last), through one
# index on both databases: `sort_due_at` is `due_at`, or this far-future instant.
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


class ItemStatus(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    SUCCESSFUL = "successful", _("Successful")
    FAILED = "failed", _("Failed")
    ABANDONED = "abandoned", _("Abandoned")
    DELETED = "deleted", _("Deleted")


TRANSITIONS: dict[str, frozenset[str]] = {
    ItemStatus.NEW: frozenset({ItemStatus.IN_PROGRESS, ItemStatus.DELETED}),
    ItemStatus.IN_PROGRESS: frozenset({ItemStatus.SUCCESSFUL, ItemStatus.FAILED, ItemStatus.ABANDONED}),
    ItemStatus.SUCCESSFUL: frozenset(),
    ItemStatus.FAILED: frozenset(),
    ItemStatus.ABANDONED: frozenset(),
    ItemStatus.DELETED: frozenset(),
}
# Items still to be worked: a queue holding any cannot be deleted.
OPEN = (ItemStatus.NEW, ItemStatus.IN_PROGRESS)
RETRYABLE = (ItemStatus.FAILED, ItemStatus.ABANDONED)


class ErrorType(models.TextChoices):
    BUSINESS = "business", _("Business exception")
    APPLICATION = "application", _("Application exception")


class WorkQueue(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True, default="")
    max_retries = models.PositiveSmallIntegerField(_("max retries"), default=1)
    retry_delay_seconds = models.PositiveIntegerField(_("retry delay (s)"), default=0)
    unique_references = models.BooleanField(_("unique references"), default=False)
    sla_minutes = models.PositiveIntegerField(_("SLA (minutes)"), null=True, blank=True)
    abandon_after_minutes = models.PositiveIntegerField(_("abandon after (minutes)"), default=1440)
    task = models.ForeignKey(
        "tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="work_queues",
        verbose_name=_("task"),
    )
    trigger_min_items = models.PositiveIntegerField(_("trigger: minimum ready items"), null=True, blank=True)
    trigger_max_jobs = models.PositiveSmallIntegerField(_("trigger: maximum jobs"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Owned by the worker (workqueues.worker), never by edits:
    events_pending = models.BooleanField(_("event pending"), default=False, editable=False)
    events_published_at = models.DateTimeField(_("event published at"), null=True, blank=True, editable=False)
    sla_breached_at = models.DateTimeField(_("SLA breached at"), null=True, blank=True, editable=False)
    trigger_checked_at = models.DateTimeField(_("trigger checked at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("work queue")
        verbose_name_plural = _("work queues")

    def __str__(self) -> str:
        return self.name


class QueueItem(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    queue = models.ForeignKey(WorkQueue, on_delete=models.CASCADE, related_name="items", verbose_name=_("queue"))
    reference = models.CharField(_("reference"), max_length=MAX_REFERENCE, blank=True, default="")
    # Set while the item holds its queue's reference (unique_references; not deleted; the latest
    # of its retries): the database refuses a second holder (unique per queue).
    unique_reference = models.CharField(max_length=MAX_REFERENCE, null=True, blank=True, editable=False)
    priority = models.CharField(_("priority"), max_length=8, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    priority_rank = models.PositiveSmallIntegerField(_("priority rank"), default=1, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=ItemStatus.choices, default=ItemStatus.NEW)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    output = models.JSONField(_("output"), null=True, blank=True)
    error_type = models.CharField(_("error type"), max_length=16, choices=ErrorType.choices, null=True, blank=True)
    error_message = models.TextField(_("error message"), blank=True, default="")
    retry_number = models.PositiveSmallIntegerField(_("retry number"), default=0)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries", verbose_name=_("retry of")
    )
    defer_until = models.DateTimeField(_("defer until"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    sort_due_at = models.DateTimeField(default=NO_DUE_DATE, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("robot account"),
    )
    job = models.ForeignKey(
        "jobs.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("job")
    )
    created_at = models.DateTimeField(_("created"), db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("queue item")
        verbose_name_plural = _("queue items")
        indexes = [
            # The take: a queue's new items in the order they are taken, its ORDER BY to the last
            # column (id included), so the take reads one index entry whatever the planner knows:
            # without `id`, a freshly loaded queue (no statistics yet) was sorted whole on every
            # take (28 ms at 100,000 items, bench/README.md).
            models.Index(
                fields=["queue", "status", "priority_rank", "sort_due_at", "created_at", "id"], name="queueitem_take"
            ),
            # The oldest new item of a queue (oldest_new_at, the SLA).
            models.Index(fields=["queue", "status", "created_at"], name="queueitem_oldest"),
            # Abandonment: in-progress items by when they were taken.
            models.Index(fields=["status", "started_at"], name="queueitem_status_started"),
            models.Index(fields=["queue", "reference"], name="queueitem_reference"),
            models.Index(fields=["queue", "finished_at"], name="queueitem_finished"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "unique_reference"], name="queueitem_unique_reference",
                condition=Q(unique_reference__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.reference or str(self.pk)
