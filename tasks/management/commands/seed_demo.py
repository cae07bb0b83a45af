"""`python manage.py seed_demo`: demo robot accounts and tasks for `make demo` (idempotent).

Some tasks run on a cron every minute or two, so the simulator (see simulate_robots) makes the
dashboard and the admin come alive within a minute; the rest wait for a manual start.

`demo_queue_bot` shows the per-robot queue (docs/jobs.md): three tasks of priority high,
normal and low, all due together — QUEUE_DEMO_DELAY seconds after each seed, then every five
minutes — so one runs and two wait in priority order. Their first cron slot is moved past the
one-shot start (QUEUE_DEMO_SPAN), so the demo does not begin by skipping its own schedule.

`Demo pool` (API.md §12) is three simulated robots, `demo_pool_01..03`, and one task that runs
on any of them (up to three jobs at once, each on a different robot): POOL_DEMO_JOBS of its jobs
are queued at each seed, so the dispatcher spreads them over the pool; then it runs on its cron.

Every demo task retries a failed run (DEMO_RETRIES); `make demo` has the simulator fail the
first run of RETRY_DEMO_APP, started RETRY_DEMO_DELAY seconds after the seed, so an automatic
retry shows within the first minutes.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, DispatchBackend
from alerts.models import AlertEvent, Channel
from rpa_workbench import events
from rpa_workbench.errors import ApiError
from tasks import demo_parameters
from tasks.demo_rows import demo_account, demo_task
from tasks.editing import update_task
from tasks.models import Task, TaskPriority
from tasks.schedules import next_run_after

ROBOTS = [
    ("demo_bot_01", "192.168.50.11", 8001),
    ("demo_bot_02", "192.168.50.12", 8002),
    ("demo_bot_03", "192.168.50.13", 8003),
    ("demo_queue_bot", "192.168.50.14", 8004),
]

# Robots on the Yingdao Open API backend (the fake tenant `manage.py fake_yingdao` in make demo):
# (name, host IP, port, Yingdao account name), and their tasks (robot, task, app, Yingdao app UUID, cron).
YINGDAO_ROBOTS = [("demo_yd_01", "192.168.50.21", 8021, "demo_yd_01@demo")]
YINGDAO_TASKS = [
    (0, "Export Taobao orders (Yingdao)", "export_orders", "5e0c2a3e-demo-4f00-9d1a-000000000001", "*/2 * * * *"),
    (0, "Customer follow-up (Yingdao)", "customer_followup", "5e0c2a3e-demo-4f00-9d1a-000000000002", ""),
]

# (robot index, task name, app, cron or "")
TASKS = [
    (0, "Daily sales report", "daily_report", "*/2 * * * *"),
    (1, "Order sync", "order_sync", "*/2 * * * *"),
    (2, "Inventory check", "inventory_check", "*/2 * * * *"),
    (0, "Invoice download", "invoice_download", ""),
    (1, "Price monitor", "price_monitor", ""),
]

# One robot, three tasks due at the same moments: the queue orders them high, normal, low.
QUEUE_ROBOT = 3
QUEUE_SCHEDULE = "*/5 * * * *"
QUEUE_DEMO_DELAY = 15
QUEUE_DEMO_SPAN = timedelta(minutes=4)  # the one-shot's three runs (and a retry or two) fit in it
QUEUE_TASKS = [
    ("Urgent refunds (high)", "urgent_refunds", TaskPriority.HIGH),
    ("Order export (normal)", "order_export", TaskPriority.NORMAL),
    ("Archive cleanup (low)", "archive_cleanup", TaskPriority.LOW),
]

# A pool of three simulated robots and a task that runs on any of them (docs/jobs.md, "Pools").
POOL_NAME = "Demo pool"
POOL_ROBOTS = [(f"demo_pool_0{n}", f"192.168.50.3{n}", 8030 + n) for n in (1, 2, 3)]
POOL_TASK = ("Export invoices (pool)", "pool_invoice_export", "*/2 * * * *")
POOL_PARALLEL = 3
POOL_DEMO_JOBS = 5

DEMO_CHANNEL = "Demo webhook receiver"

DEMO_RETRIES = {"max_retries": 2, "retry_delay_seconds": 15}
# make demo runs the simulator with --fail-first RETRY_DEMO_APP: its first run fails, its retry follows.
RETRY_DEMO_APP = "price_monitor"
RETRY_DEMO_DELAY = 20


def _task_defaults(task_name: str, cron: str, **extra) -> dict:
    return {
        "task_name": task_name,
        "schedule": cron,
        "schedule_timezone": "Asia/Shanghai" if cron else "",
        "config_info": True,
        "config_json": '{"shop": "demo"}',
        "remark": "demo task (make demo)",
        **DEMO_RETRIES,
        **extra,
    }


def demo_robots() -> list[tuple[str, str, int, dict]]:
    """(name, host IP, port, other account fields) of every demo robot, relay ones first."""
    yingdao = {"dispatch_backend": DispatchBackend.YINGDAO}
    return [(*robot, {}) for robot in ROBOTS + POOL_ROBOTS] + [
        (name, host_ip, port, {**yingdao, "yingdao_account_name": yingdao_name})
        for name, host_ip, port, yingdao_name in YINGDAO_ROBOTS
    ]


def demo_tasks() -> list[tuple[int, str, str, dict]]:
    """(index into demo_robots(), app, task fields) of every demo task."""
    offset = len(ROBOTS) + len(POOL_ROBOTS)
    return [(index, app, _task_defaults(name, cron)) for index, name, app, cron in TASKS] + [
        (QUEUE_ROBOT, app, _task_defaults(name, QUEUE_SCHEDULE, priority=priority))
        for name, app, priority in QUEUE_TASKS
    ] + [
        (offset + index, app, _task_defaults(name, cron, yingdao_robot_uuid=robot_uuid,
                                             remark="demo task on the Yingdao backend (make demo)"))
        for index, name, app, robot_uuid, cron in YINGDAO_TASKS
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Create demo robot accounts and tasks (some on a schedule); safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        accounts = [demo_account(name, host_ip, port, extra) for name, host_ip, port, extra in demo_robots()]
        created = 0
        tasks = demo_tasks()
        rows = []
        for index, app_name, defaults in tasks:
            row, was_created = demo_task(accounts[index], app_name, defaults)
            created += was_created
            if row.max_retries == 0:  # seeded before retries were part of the demo, and not set since
                row = update_task(task=row, changes=dict(DEMO_RETRIES))
            rows.append(row)
        self.stdout.write(f"demo data: {len(accounts)} robots, {created} new task(s) ({len(tasks)} in all)")
        self.stdout.write(f"demo parameters: {demo_parameters.seed(rows)} task(s) take inputs")
        self.seed_pool(accounts[len(ROBOTS):len(ROBOTS) + len(POOL_ROBOTS)])
        self.fire_queue_demo(accounts[QUEUE_ROBOT])
        self.fire_retry_demo(accounts[1])
        self.seed_alert_channel()
        if apps.is_installed("workqueues"):  # the work queue demo lives in its own app
            call_command("seed_demo_queue", stdout=self.stdout)

    def seed_pool(self, robots: list[Account]) -> None:
        """The demo pool, its task (bound to the first of its robots) and POOL_DEMO_JOBS queued
        jobs of that task — unless some still wait — for the dispatcher to spread over the pool."""
        from jobs import services as job_services
        from jobs.models import ACTIVE, Job, JobSource
        from pools.models import Pool

        pool, _ = Pool.objects.get_or_create(
            name=POOL_NAME, defaults={"description": "three simulated robots (make demo)"}
        )
        pool.accounts.add(*robots)
        name, app, cron = POOL_TASK
        task, _ = demo_task(robots[0], app, _task_defaults(name, cron, pool=pool, max_parallel_jobs=POOL_PARALLEL))
        queued = 0
        if not Job.objects.filter(task=task, status__in=ACTIVE).exists():
            for _ in range(POOL_DEMO_JOBS):
                try:
                    job_services.start_job(task=task, source=JobSource.ADMIN, inline=False)
                except ApiError as exc:  # e.g. no relay configured (make run without make demo)
                    self.stdout.write(f"pool demo: no job queued ({exc.message})")
                    break
                queued += 1
        self.stdout.write(f"pool demo: {pool.name} ({', '.join(r.shadow_bot_account for r in robots)}), "
                          f"{queued} job(s) of {app} queued for any of them")

    def fire_queue_demo(self, robot: Account) -> None:
        """All three queue-demo tasks due at once, shortly after this seed (one-shot trigger)."""
        due = timezone.now() + timedelta(seconds=QUEUE_DEMO_DELAY)
        apps = [app for _, app, _ in QUEUE_TASKS]
        first_slot = next_run_after(QUEUE_SCHEDULE, "Asia/Shanghai", due + QUEUE_DEMO_SPAN)
        for task in Task.objects.select_related("account").filter(account=robot, app_name__in=apps):
            # next_run_at is the scheduler's column (no edit writes it): moved here, told like an edit.
            Task.objects.filter(pk=task.pk).update(next_run_at=first_slot)
            task.next_run_at = first_slot
            events.publish_task_updated(task, {"next_run_at": first_slot})
            update_task(task=task, changes={"trigger_time": due})
        self.stdout.write(
            f"queue demo: {robot.shadow_bot_account} starts {', '.join(apps)} together in {QUEUE_DEMO_DELAY} s, "
            f"then on their schedule from {timezone.localtime(first_slot):%H:%M}"
        )

    def fire_retry_demo(self, robot: Account) -> None:
        """RETRY_DEMO_APP starts shortly after this seed; the simulator fails that first run."""
        due = timezone.now() + timedelta(seconds=RETRY_DEMO_DELAY)
        for task in Task.objects.select_related("account").filter(account=robot, app_name=RETRY_DEMO_APP):
            update_task(task=task, changes={"trigger_time": due})
        self.stdout.write(f"retry demo: {RETRY_DEMO_APP} on {robot.shadow_bot_account} starts in {RETRY_DEMO_DELAY} s")

    def seed_alert_channel(self) -> None:
        """A webhook channel posting every alert to `manage.py alert_receiver` (make demo starts
        it on RPA_DEMO_ALERT_PORT, signed with RPA_DEMO_ALERT_SECRET)."""
        port = os.environ.get("RPA_DEMO_ALERT_PORT", "18900")
        channel, _ = Channel.objects.update_or_create(
            name=DEMO_CHANNEL,
            defaults={
                "kind": "webhook",
                "target": f"http://127.0.0.1:{port}/alerts",
                "secret": os.environ.get("RPA_DEMO_ALERT_SECRET", ""),
                "enabled": True,
                "events": list(AlertEvent.values),
            },
        )
        self.stdout.write(f"demo alert channel: {channel.name} → {channel.target}")
