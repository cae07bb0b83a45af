"""A controllable clock for tests of time rules: `clock.advance(seconds)` moves time without
sleeping (monkeypatched over a module's `clock`, e.g. accounts.presence.clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone


class Clock:
    def __init__(self) -> None:
        self.now: datetime = timezone.now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
