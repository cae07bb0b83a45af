"""Benchmark of alerts (not a test: it prints figures). Fresh SQLite file, migrated; one robot.

1. raise_alert: the cost it adds to the transaction of a change (an Alert, one Delivery per
   channel, the SSE event after commit), with `--channels` matching channels.
2. The worker (4 send threads): time to deliver `--n` alerts to every healthy channel (real local
   HTTP servers) while one more channel hangs on every request for 2 s.

    .venv/bin/python bench/alerts.py              # 200 alerts, 3 healthy channels + 1 hanging
"""

from __future__ import annotations

import argparse  # noqa: E402
import os  # noqa: E402
import sys
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--channels", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alerts_bench_"))
    os.environ.update(
        DATABASE_URL=f"sqlite:///{work / 'bench.sqlite3'}", RPA_VAR_DIR=str(work / "var"),
        DJANGO_SETTINGS_MODULE="rpa_workbench.settings", RPA_LOG_LEVEL="ERROR", RPA_ALERT_TIMEOUT="5",
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from alerts.models import Channel, Delivery
    from alerts.services import raise_alert
    from alerts.worker import Worker
    from rpa_workbench.testing.factories import make_task
    from rpa_workbench.testing.relay import start_fake_relay

    call_command("migrate", verbosity=0)
    task = make_task()
    healthy = []
    for index in range(args.channels):
        fake, _server = start_fake_relay()
        Channel.objects.create(name=f"healthy {index}", kind="webhook", target=fake.url, secret="s", events=["job_failed"])
        healthy.append(fake)
    hanging, _server = start_fake_relay()
    hanging.delay = 2.0
    Channel.objects.create(name="hanging", kind="webhook", target=hanging.url, events=["job_failed"])

    started = time.perf_counter()
    for _ in range(args.n):
        with transaction.atomic():
            raise_alert(event="job_failed", task=task, details={"reason": "robot_reported_failure"})
    raise_seconds = time.perf_counter() - started
    print(f"raise_alert: {args.n} alerts x {args.channels + 1} channels in {raise_seconds:.2f}s "
          f"= {1000 * raise_seconds / args.n:.2f} ms per alert (in its own transaction, SSE event included)")

    stop = threading.Event()
    worker = Worker(threads=4)
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.02), daemon=True)
    started = time.perf_counter()
    thread.start()
    wanted = args.n * args.channels
    while sum(len(fake.requests) for fake in healthy) < wanted and time.perf_counter() - started < 120:
        time.sleep(0.05)
    delivered = time.perf_counter() - started
    got = sum(len(fake.requests) for fake in healthy)
    print(f"worker: {got}/{wanted} deliveries to the healthy channels in {delivered:.2f}s "
          f"= {got / delivered:.0f}/s, while the hanging channel got {len(hanging.requests)} request(s)")
    stop.set()
    thread.join(10)
    worker.pool.shutdown(wait=True)
    sent = Delivery.objects.filter(status="sent").count()
    print(f"database: {sent} deliveries sent, {Delivery.objects.filter(status='pending').count()} pending")


if __name__ == "__main__":
    main()
