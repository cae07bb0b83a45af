"""Counters shared by every server process (issue 13 item 3): nothing of this is in memory."""

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
