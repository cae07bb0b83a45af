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

    Its id is the event's position for every stream: the all-events stream sends every id, an
    account's stream (`?account_id=`) only the ids whose `account_id` is that account. No foreign
    key: an account's events (its deletion included) outlive it for replay."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=64)
    account_id = models.UUIDField(null=True, blank=True)
    data = models.TextField()  # the encoded `{"type", "data"}` payload, sent as is
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "rpa_event"
        ordering = ["id"]
        indexes = [models.Index(fields=["account_id", "id"], name="rpa_event_account_id")]

    def __str__(self) -> str:
        return f"{self.type} #{self.id}"


class EventTrimMark(models.Model):
    """The highest event id trimmed from the outbox (one row): a stream resuming from an id
    below it may have missed events and gets `stream-reset` instead of a replay."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    trimmed_through = models.BigIntegerField(default=0)

    class Meta:
        db_table = "rpa_event_trim"

    def __str__(self) -> str:
        return f"events trimmed through #{self.trimmed_through}"
