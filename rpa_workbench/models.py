"""Shared state of every server process, nothing of it in memory: sign-in failure counters
(issue 13 item 3) and the event outbox behind live events and their replay
(rpa_workbench.event_store)."""

from __future__ import annotations

from django.db import models


class AuthFailure(models.Model):
    """Failed sign-ins or webhook secrets for one key (`login-user:<name>`, `login-addr:<ip>`,
    `robot-addr:<ip>`) within the current window, and until when the key is locked out.
    Written only by `rpa_workbench.throttling`."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = "authentication failure counter"

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


class StoredEvent(models.Model):
    """One published event, stored once, in the transaction of the change that caused it.

    Its `position` is the event's id for every stream, given in commit order (on PostgreSQL
    stamped after the commit, see rpa_workbench.event_store; null until then): the all-events
    stream sends every position, an account's stream (`?account_id=`) only those whose
    `account_id` is that account. `id` only orders the inserts. No foreign key: an account's
    events (its deletion included) outlive it for replay."""

    id = models.BigAutoField(primary_key=True)
    position = models.BigIntegerField(null=True, blank=True, unique=True)
    type = models.CharField(max_length=64)
    account_id = models.UUIDField(null=True, blank=True)
    data = models.TextField()  # the encoded `{"type", "data"}` payload, sent as is
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "rpa_event"
        ordering = ["position"]
        indexes = [
            models.Index(fields=["account_id", "position"], name="rpa_event_account_position"),
            # The sequencer's work list: the few committed events not stamped yet.
            models.Index(fields=["id"], condition=models.Q(position__isnull=True), name="rpa_event_unstamped"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.position}"


class EventTrimMark(models.Model):
    """The highest event id trimmed from the outbox (one row): a stream resuming from an id
    below it may have missed events and gets `stream-reset` instead of a replay."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    trimmed_through = models.BigIntegerField(default=0)

    class Meta:
        db_table = "rpa_event_trim"

    def __str__(self) -> str:
        return f"events trimmed through #{self.trimmed_through}"
