"""Waiting in live tests for what another process does (a server, the simulator, a receiver)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str = "condition") -> Any:
    """Poll `condition` every 0.2 s until it returns something truthy (returned), or fail the
    test after `timeout` seconds, naming `what` it waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
