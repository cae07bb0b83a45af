"""Events get a `position` (their id in every stream), stamped in commit order; the events
already stored keep their id as their position, so a client's Last-Event-ID stays valid."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rpa_workbench', '0002_event_outbox'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='storedevent',
            options={'ordering': ['position']},
        ),
        migrations.RemoveIndex(
            model_name='storedevent',
            name='rpa_event_account_id',
        ),
        migrations.AddField(
            model_name='storedevent',
            name='position',
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.RunSQL(
            'UPDATE rpa_event SET "position" = id', reverse_sql=migrations.RunSQL.noop, elidable=False
        ),
        migrations.AddIndex(
            model_name='storedevent',
            index=models.Index(fields=['account_id', 'position'], name='rpa_event_account_position'),
        ),
        migrations.AddIndex(
            model_name='storedevent',
            index=models.Index(condition=models.Q(('position__isnull', True)), fields=['id'], name='rpa_event_unstamped'),
        ),
    ]
