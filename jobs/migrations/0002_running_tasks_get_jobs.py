"""Existing data: a task that is running now gets a running job (source robot), so the queue,
the watchdog and the robot's next report find it."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

RANK = {"high": 0, "normal": 1, "low": 2}


def running_tasks_get_jobs(apps, schema_editor):
    Task = apps.get_model("tasks", "Task")
    Job = apps.get_model("jobs", "Job")
    now = timezone.now()
    for task in Task.objects.filter(status="running").select_related("account").iterator():
        account = task.account
        started = task.last_run_time or task.updated_at or now
        Job.objects.create(
            task=task,
            account=account,
            task_name=task.task_name,
            shadow_bot_account=account.shadow_bot_account,
            host_ip=account.host_ip,
            app_name=task.app_name,
            status="running",
            priority=task.priority,
            priority_rank=RANK.get(task.priority, 1),
            source="robot",
            backend=account.dispatch_backend,
            run_timeout_seconds=task.run_timeout_seconds or settings.RPA_JOB_RUN_TIMEOUT_SECONDS,
            wait_timeout_seconds=task.wait_timeout_seconds or settings.RPA_JOB_WAIT_TIMEOUT_SECONDS,
            message="running when jobs were introduced",
            created_at=started,
            dispatched_at=started,
            started_at=started,
        )


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [migrations.RunPython(running_tasks_get_jobs, migrations.RunPython.noop)]
