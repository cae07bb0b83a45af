"""`python manage.py seed_demo_queue` (run by `seed_demo`): the work queue demo of `make demo`.

A robot `demo_orders_bot` with the task *Process orders* (app `process_orders`), and the queue
*Demo orders* whose trigger starts that task while items are ready. Each seed adds the 120 orders
of workqueues/demo/orders.csv (references stamped with the seed's minute, the queue wants unique
references) unless the queue still has open items. The simulator's robot takes them one at a
time, about one in ten fails (business: final; application: retried after 20 s), and the
two-minute SLA is missed while the backlog drains, so the dashboard shows all of it.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks.demo_rows import demo_account, demo_task
from workqueues import csv_upload
from workqueues.models import OPEN, WorkQueue

ORDERS_CSV = Path(__file__).resolve().parents[2] / "demo" / "orders.csv"
ROBOT = ("demo_orders_bot", "192.168.50.15", 8005)
APP, TASK_NAME = "process_orders", "Process orders (work queue)"
QUEUE = "Demo orders"


def stamped(raw: bytes, stamp: str) -> bytes:
    """The CSV with every reference suffixed by `stamp` (the queue wants unique references)."""
    lines = raw.decode("utf-8").splitlines()
    out = [lines[0]] + [line.replace(",", f"-{stamp},", 1) for line in lines[1:] if line.strip()]
    return ("\n".join(out) + "\n").encode()


class Command(BaseCommand):
    help = "Create the work queue demo (robot, task, queue with a trigger) and add the demo orders."

    def handle(self, *args, **options):
        name, host_ip, port = ROBOT
        robot = demo_account(name, host_ip, port)
        task, _ = demo_task(robot, APP, {
            "task_name": TASK_NAME, "remark": "works the Demo orders queue until it is empty (make demo)",
            # Like every demo task (seed_demo's DEMO_RETRIES): a failed run is retried.
            "max_retries": 2, "retry_delay_seconds": 15})
        queue, _ = WorkQueue.objects.get_or_create(name=QUEUE, defaults={
            "description": "Orders from the demo shop: the simulated robot processes them one by one.",
            "task": task, "trigger_min_items": 1, "trigger_max_jobs": 1, "max_retries": 2,
            "retry_delay_seconds": 20, "sla_minutes": 2, "unique_references": True, "abandon_after_minutes": 10})
        if queue.items.filter(status__in=OPEN).exists():
            self.stdout.write(f"work queue demo: {queue.name} still has open items; none added")
            return
        result = csv_upload.upload(queue=queue, raw=stamped(ORDERS_CSV.read_bytes(), timezone.now().strftime("%m%d%H%M")))
        if result.errors:
            self.stderr.write(f"work queue demo: the orders CSV was refused: {result.errors[:3]}")
            return
        self.stdout.write(f"work queue demo: {result.created} orders added to {queue.name}; {name} works them")
