"""The `operator` and `viewer` roles: Django groups and the permissions each holds.

The groups are created by a data migration (accounts 0002) and their permissions re-synced after
every `migrate`, so models added later are covered without hand-editing groups.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

OPERATOR = "operator"
VIEWER = "viewer"

VIEW_ONLY = [
    "accounts.view_account",
    "tasks.view_task",
    "tasks.view_controlrequest",
    "executionlogs.view_executionlog",
    "alerts.view_channel",
    "alerts.view_delivery",
    "alerts.view_alert",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: VIEW_ONLY,
    OPERATOR: VIEW_ONLY
    + [
        "accounts.add_account",
        "accounts.change_account",
        "accounts.delete_account",
        "tasks.add_task",
        "tasks.change_task",
        "tasks.delete_task",
        "tasks.control_task",
    ],
}


def create_all_permissions(apps) -> None:
    """Inside a migration, permissions of the historical models do not exist yet: make them."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def sync_roles(apps=global_apps) -> None:
    """Create the role groups and give each exactly the permissions that exist for it."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            wanted.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, apps=None, **kwargs) -> None:
    """post_migrate runs once per app after auth has made that app's permissions; the last run
    sees them all. Idempotent and cheap."""
    if apps is None:
        return
    try:
        sync_roles(apps)
    except LookupError:  # auth not migrated in this database
        return


def role_of(user) -> str:
    if user.is_superuser or user.is_staff:
        return "admin"
    names = set(user.groups.values_list("name", flat=True))
    if OPERATOR in names:
        return OPERATOR
    if VIEWER in names:
        return VIEWER
    return "none"
