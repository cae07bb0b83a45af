"""Clamp stored durations into [0, 30 days] (issue 13): a robot once could store 1e308 seconds,
whose sums overflow the dashboard's aggregates. Not reversible: the absurd values carry no
information worth restoring."""

from django.db import migrations

MAX_DURATION_SECONDS = 30 * 86400.0  # executionlogs.limits.MAX_DURATION_SECONDS, frozen here


def clamp_durations(apps, schema_editor):
    ExecutionLog = apps.get_model("executionlogs", "ExecutionLog")
    # NaN (PostgreSQL can store it) equals itself there; on SQLite it was never stored.
    ExecutionLog.objects.filter(duration=float("nan")).update(duration=None)
    ExecutionLog.objects.filter(duration__gt=MAX_DURATION_SECONDS).update(duration=MAX_DURATION_SECONDS)
    ExecutionLog.objects.filter(duration__lt=0).update(duration=0.0)


class Migration(migrations.Migration):
    dependencies = [("executionlogs", "0002_dashboard_covering_indexes")]

    operations = [migrations.RunPython(clamp_durations, migrations.RunPython.noop, elidable=True)]
