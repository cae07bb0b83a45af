"""`python manage.py seed_demo`: demo robot accounts and tasks for `make demo` (idempotent).

Some tasks run on a cron every minute or two, so the simulator (see simulate_robots) makes the
dashboard and the admin come alive within a minute; the rest wait for a manual start.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account
from alerts.models import AlertEvent, Channel
from tasks.models import Task

ROBOTS = [
    ("demo_bot_01", "192.168.50.11", 8001),
    ("demo_bot_02", "192.168.50.12", 8002),
    ("demo_bot_03", "192.168.50.13", 8003),
]

# (robot index, task name, app, cron or "")
TASKS = [
    (0, "Daily sales report", "daily_report", "* * * * *"),
    (1, "Order sync", "order_sync", "*/2 * * * *"),
    (2, "Inventory check", "inventory_check", "*/2 * * * *"),
    (0, "Invoice download", "invoice_download", ""),
    (1, "Price monitor", "price_monitor", ""),
]

DEMO_CHANNEL = "Demo webhook receiver"


class Command(BaseCommand):
    help = "Create demo robot accounts and tasks (some on a schedule); safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        accounts = []
        for name, host_ip, port in ROBOTS:
            account, _ = Account.objects.get_or_create(shadow_bot_account=name, host_ip=host_ip, port=port)
            accounts.append(account)
        created = 0
        for index, task_name, app_name, cron in TASKS:
            _, was_created = Task.objects.get_or_create(
                account=accounts[index],
                app_name=app_name,
                defaults={
                    "task_name": task_name,
                    "schedule": cron,
                    "schedule_timezone": "Asia/Shanghai" if cron else "",
                    "config_info": True,
                    "config_json": '{"shop": "demo"}',
                    "remark": "demo task (make demo)",
                },
            )
            created += was_created
        self.stdout.write(f"demo data: {len(accounts)} robots, {created} new task(s) ({len(TASKS)} in all)")
        self.seed_alert_channel()

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
