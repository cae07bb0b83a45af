"""Periodic passes claimed in the database, so several server processes run each one once."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from yingdao.models import LoopClaim


def claim(name: str, *, every: float, now: datetime) -> bool:
    """True when this caller won the pass `name` due at `now`; the next one is `every` s later."""
    if not LoopClaim.objects.filter(name=name).exists():
        try:
            with transaction.atomic():
                LoopClaim.objects.create(name=name, next_run_at=now)
        except IntegrityError:  # another process created it first
            pass
    won = LoopClaim.objects.filter(name=name, next_run_at__lte=now).update(
        next_run_at=now + timedelta(seconds=every)
    )
    return won == 1
