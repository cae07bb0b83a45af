"""Create the operator and viewer role groups with their default permissions (once: later edits
made in the admin are kept; see rpa_workbench/roles.py)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from rpa_workbench import roles

    roles.create_all_permissions(apps)
    roles.create_missing_roles(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("tasks", "0001_initial"),
        ("executionlogs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
