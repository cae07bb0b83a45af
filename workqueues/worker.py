"""The work queue worker: triggers, abandonment, SLA alerts and `queue_updated` events.

One pass (`run_once`) runs each part, every one claimed with conditional UPDATEs, so several
workers (one embedded in each server process, rpa_workbench/embedded.py, or `manage.py
run_workqueues`) side by side do each thing once. Time comes in as `now` (tests pass their own).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from rpa_workbench import embedded
from workqueues import abandon, changes, sla, trigger

logger = logging.getLogger(__name__)


@dataclass
class Summary:
    abandoned: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)


def run_once(*, now: datetime | None = None) -> Summary:
    now = now or timezone.now()
    summary = Summary()
    for name, part in (("abandoned", abandon.sweep), ("started", trigger.run), ("breached", sla.check),
                       ("published", changes.publish_due)):
        try:
            setattr(summary, name, part(now))
        except Exception:
            logger.exception("work queue worker: %s failed", name)
    return summary


def run_forever(*, interval: float | None = None, stop: threading.Event | None = None) -> None:
    interval = settings.RPA_WORKQUEUE_INTERVAL if interval is None else interval
    embedded.repeat(run_once, name="work queue worker", interval=interval, stop=stop or threading.Event())
