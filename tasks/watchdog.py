"""The lost-robot watchdog, run by the scheduler: a running task whose robot has gone silent for
RPA_HEARTBEAT_TIMEOUT has its job ended failed/lost_contact. The transition lives with the other
job timeouts in `jobs.timeouts`; this module is the scheduler's entry point to it."""

from __future__ import annotations

from jobs.timeouts import check_lost, mark_lost, silent_since

__all__ = ["check_lost", "mark_lost", "silent_since"]
