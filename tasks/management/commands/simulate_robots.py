"""`python manage.py simulate_robots --port 18899 --callback http://127.0.0.1:8888`.

Runs tasks.simulator.RobotSimulator as the relay: point RPA_RELAY_URL at
http://127.0.0.1:<port>/yingdao. Robots are the relay accounts in the database (host IP and
port). Screenshots and logs are kept under `--files-dir` (default var/simulator/), so the logs of
earlier runs still show them after a restart; idle robots send the idle heartbeat at start and
every `--idle-heartbeat-seconds`.
"""

from __future__ import annotations

import signal
import threading
import zoneinfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from accounts.models import Account, DispatchBackend
from tasks.simulator import RobotSimulator
from tasks.simulator_idle import start_idle_heartbeats
from tasks.simulator_queues import QueueWork


def resolve_from_database(host_ip: str, port: int) -> str | None:
    close_old_connections()
    try:
        return Account.objects.filter(host_ip=host_ip, port=port).values_list("shadow_bot_account", flat=True).first()
    finally:
        close_old_connections()


def relay_robots_from_database() -> list[tuple[str, str, int]]:
    """(account, host IP, port) of every robot behind the relay, i.e. those the simulator plays."""
    close_old_connections()
    try:
        rows = Account.objects.filter(dispatch_backend=DispatchBackend.RELAY).order_by("shadow_bot_account")
        return list(rows.values_list("shadow_bot_account", "host_ip", "port"))
    finally:
        close_old_connections()


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        low_value, high_value = float(low), float(high or low)
    except ValueError:
        raise CommandError(f"--run-seconds must look like 20-60, got {text!r}") from None
    if low_value < 0 or high_value < low_value:
        raise CommandError(f"--run-seconds must look like 20-60, got {text!r}")
    return low_value, high_value


class Command(BaseCommand):
    help = "Simulate Yingdao robots behind a relay: confirm, heartbeat, run, report results."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=18899)
        parser.add_argument("--callback", default="http://127.0.0.1:8888", help="backend base URL for the webhooks")
        parser.add_argument("--token", default="", help="webhook secret (default: RPA_WEBHOOK_TOKEN)")
        parser.add_argument("--run-seconds", default="20-60", help="random run time range, e.g. 20-60")
        parser.add_argument("--heartbeat-seconds", type=float, default=15.0)
        parser.add_argument("--failure-rate", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--files-dir", default=str(settings.VAR_DIR / "simulator"),
            help="where screenshots and logs are kept (default var/simulator/, under RPA_VAR_DIR)",
        )
        parser.add_argument(
            "--fail-first", action="append", default=[], metavar="APP",
            help="the first run of this app fails (repeatable; make demo uses it to show a retry)",
        )
        parser.add_argument(
            "--idle-heartbeat-seconds", type=float, default=30.0, help="idle heartbeat interval (0: none)"
        )

    def handle(self, *args, **opts):
        token = opts["token"] or settings.RPA_WEBHOOK_TOKEN
        if not token:
            raise CommandError("no webhook secret: pass --token or set RPA_WEBHOOK_TOKEN (the server must use the same)")
        simulator = RobotSimulator(
            callback=opts["callback"],
            token=token,
            resolve=resolve_from_database,
            run_seconds=_range(opts["run_seconds"]),
            heartbeat_seconds=opts["heartbeat_seconds"],
            failure_rate=opts["failure_rate"],
            seed=opts["seed"],
            work=QueueWork(callback=opts["callback"], token=token, seed=opts["seed"]),
            files_dir=opts["files_dir"],
            zone=zoneinfo.ZoneInfo(settings.RPA_ROBOT_TIMEZONE),
            fail_first=frozenset(app.lower() for app in opts["fail_first"]),
        )
        server = simulator.serve(opts["host"], opts["port"])
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        if opts["idle_heartbeat_seconds"] > 0:
            start_idle_heartbeats(simulator, relay_robots_from_database, interval=opts["idle_heartbeat_seconds"])
        self.stdout.write(
            f"robot simulator listening: set RPA_RELAY_URL={simulator.public_url}/yingdao "
            f"(webhooks to {opts['callback']})"
        )
        self.stdout.flush()
        stop.wait()
        server.shutdown()
        server.server_close()
