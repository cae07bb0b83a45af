"""Lockout after repeated failed sign-ins and webhook secrets (issue 13 item 3).

Each failure counts against keys — the username tried and the client address for sign-ins, the
client address for webhook secrets. A key that reaches its limit within
`RPA_AUTH_FAILURE_WINDOW_SECONDS` is locked for `RPA_AUTH_LOCKOUT_SECONDS`: every attempt on it,
right or wrong, is answered 429 `TOO_MANY_REQUESTS` with `Retry-After` until then, and its count
starts afresh afterwards. Counts live in the database (`AuthFailure`), so every server process
shares them. A successful sign-in clears its username's count (not its address's, which another
user of that address may be guessing from).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from rpa_workbench.errors import ApiError
from rpa_workbench.models import AuthFailure

TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"

# The clock every decision here reads; tests replace it.
clock: Callable[[], datetime.datetime] = timezone.now


class TooManyRequests(ApiError):
    """429 with `Retry-After` (whole seconds, at least 1)."""

    def __init__(self, retry_after: float, message: str):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(429, TOO_MANY_REQUESTS, f"{message}; try again in {self.retry_after} s")
        self.headers = {"Retry-After": str(self.retry_after)}


def client_address(request) -> str:
    """The peer address as the server saw it (behind a proxy: run Daphne with --proxy-headers)."""
    meta = getattr(request, "META", None) or {}
    return (meta.get("REMOTE_ADDR") or "unknown")[:100]


@dataclass(frozen=True)
class Key:
    name: str
    limit: int


def login_keys(request, username: str) -> list[Key]:
    return [
        Key(f"login-user:{username.strip().lower()[:150]}", settings.RPA_LOGIN_MAX_FAILURES_PER_USERNAME),
        Key(f"login-addr:{client_address(request)}", settings.RPA_LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


def robot_keys(request) -> list[Key]:
    return [Key(f"robot-addr:{client_address(request)}", settings.RPA_WEBHOOK_MAX_FAILURES_PER_ADDRESS)]


def refuse_if_locked(keys: list[Key], what: str) -> None:
    """Raise TooManyRequests while any of `keys` is locked."""
    now = clock()
    locked_until = (
        AuthFailure.objects.filter(key__in=[key.name for key in keys], locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    if locked_until is not None:
        raise TooManyRequests((locked_until - now).total_seconds(), f"too many failed {what}")


def record_failure(keys: list[Key]) -> None:
    """Count one failure against each key, locking those that reach their limit."""
    now = clock()
    window = datetime.timedelta(seconds=settings.RPA_AUTH_FAILURE_WINDOW_SECONDS)
    lockout = datetime.timedelta(seconds=settings.RPA_AUTH_LOCKOUT_SECONDS)
    with transaction.atomic():
        for key in keys:
            _count(key, now, window, lockout)
        # Forget counters whose window and lockout are both over (keeps the table small).
        AuthFailure.objects.filter(window_started_at__lt=now - window).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now)
        ).delete()


def _count(key: Key, now: datetime.datetime, window: datetime.timedelta, lockout: datetime.timedelta) -> None:
    row = AuthFailure.objects.select_for_update().filter(key=key.name).first()
    if row is None:
        try:
            with transaction.atomic():
                row = AuthFailure.objects.create(key=key.name, failures=0, window_started_at=now)
        except IntegrityError:  # another process created it meanwhile
            row = AuthFailure.objects.select_for_update().get(key=key.name)
    expired = row.window_started_at <= now - window or (row.locked_until is not None and row.locked_until <= now)
    if expired:
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= key.limit:
        row.locked_until = now + lockout
    row.save(update_fields=["failures", "window_started_at", "locked_until"])


def clear(keys: list[Key]) -> None:
    AuthFailure.objects.filter(key__in=[key.name for key in keys]).delete()
