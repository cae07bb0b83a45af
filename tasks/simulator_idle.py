"""The simulator's idle heartbeats (docs/api.md §5, "What a robot's listener sends").

Every robot the simulator plays that runs nothing sends `POST /webhook/heartbeat` with only its
account name (and host IP): at once when the simulator starts — so a robot that "restarted"
says it runs nothing, and the backend ends the jobs it had still marked running
(`robot_restarted`) instead of waiting for the heartbeat timeout — then every
`interval` seconds, which keeps idle robots `online` between runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

# (shadow_bot_account, host_ip, port) of every robot the simulator plays.
Robots = Callable[[], "list[tuple[str, str, int]]"]


def report_idle(simulator, robots: Robots, *, attempts: int = 3) -> list[str]:
    """One idle heartbeat per robot not running anything; returns the accounts reported."""
    try:
        everyone = robots()
    except Exception:
        logger.exception("simulator: could not list the robots")
        return []
    reported = []
    for account, host_ip, port in everyone:
        if simulator.is_running(host_ip, port):
            continue
        if simulator.post("heartbeat", {"shadow_bot_account": account, "host_ip": host_ip}, attempts=attempts):
            reported.append(account)
    return reported


def run_idle_heartbeats(simulator, robots: Robots, *, stop: threading.Event, interval: float = 30.0) -> None:
    """The loop: a first report (retried while the backend starts), then one every `interval`."""
    first = report_idle(simulator, robots, attempts=10)
    logger.info("simulator: idle robots reported at start: %s", ", ".join(first) or "none")
    while not stop.wait(interval):
        report_idle(simulator, robots)


def start_idle_heartbeats(simulator, robots: Robots, *, interval: float = 30.0) -> threading.Event:
    """Runs the loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=run_idle_heartbeats, args=(simulator, robots), kwargs={"stop": stop, "interval": interval},
        name="simulator-idle-heartbeats", daemon=True,
    ).start()
    return stop
