"""The `operator` and `viewer` roles: Django groups and the permissions each holds.

`ROLE_PERMISSIONS` are the defaults. A group gets them when it is created (by the data migration
accounts 0002, or by `migrate` when the group is missing). After that the groups belong to the
admins: `migrate` never takes a permission away or gives back one an admin removed. It only
grants a default permission that did not exist before that `migrate` (a model added by a new
release). `manage.py sync_roles` adds missing defaults; `manage.py sync_roles --reset` sets each
role to exactly its defaults.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS, connections

OPERATOR = "operator"
VIEWER = "viewer"

VIEW_ONLY = [
    "accounts.view_account",
    "pools.view_pool",
    "tasks.view_task",
    "tasks.view_controlrequest",
    "jobs.view_job",
    "executionlogs.view_executionlog",
    "alerts.view_channel",
    "alerts.view_delivery",
    "alerts.view_alert",
    "workqueues.view_workqueue",
    "workqueues.view_queueitem",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: VIEW_ONLY,
    OPERATOR: VIEW_ONLY
    + [
        "accounts.add_account",
        "accounts.change_account",
        "accounts.delete_account",
        "pools.add_pool",
        "pools.change_pool",
        "pools.delete_pool",
        "tasks.add_task",
        "tasks.change_task",
        "tasks.delete_task",
        "tasks.control_task",
        "workqueues.add_workqueue",
        "workqueues.change_workqueue",
        "workqueues.delete_workqueue",
        "workqueues.add_queueitem",
        "workqueues.change_queueitem",
        "workqueues.delete_queueitem",
    ],
}


def create_all_permissions(apps) -> None:
    """Inside a migration, permissions of the historical models do not exist yet: make them."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def _default_permissions(apps, using: str, names: list[str]) -> list[Any]:
    Permission = apps.get_model("auth", "Permission")
    wanted = []
    for name in names:
        app_label, codename = name.split(".")
        wanted.extend(Permission.objects.using(using).filter(content_type__app_label=app_label, codename=codename))
    return wanted


def sync_roles(apps=global_apps, *, reset: bool = True, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create missing role groups; give each its default permissions — exactly those (reset),
    or in addition to what admins gave it (reset=False)."""
    Group = apps.get_model("auth", "Group")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = _default_permissions(apps, using, names)
        if reset:
            group.permissions.set(wanted)
        else:
            group.permissions.add(*wanted)


def create_missing_roles(apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the role groups that do not exist, with their defaults; leave existing ones be."""
    Group = apps.get_model("auth", "Group")
    for role, names in ROLE_PERMISSIONS.items():
        group, created = Group.objects.using(using).get_or_create(name=role)
        if created:
            group.permissions.set(_default_permissions(apps, using, names))


def _existing_defaults(using: str) -> set[str]:
    """The default permissions (app_label.codename) that exist in the database now."""
    from django.contrib.auth.models import Permission

    if Permission._meta.db_table not in connections[using].introspection.table_names():
        return set()
    rows = Permission.objects.using(using).values_list("content_type__app_label", "codename")
    wanted = {name for names in ROLE_PERMISSIONS.values() for name in names}
    return {f"{app_label}.{codename}" for app_label, codename in rows} & wanted


# The default permissions that existed when this `migrate` began, per database (for one run).
_before_migrate: dict[str, tuple[object, set[str]]] = {}


def remember_permissions_before_migrate(sender, using: str = DEFAULT_DB_ALIAS, plan=None, **kwargs) -> None:
    """pre_migrate (sent once per app, with the same plan): note what exists before the run."""
    current = _before_migrate.get(using)
    if current is None or current[0] is not plan:
        _before_migrate[using] = (plan, _existing_defaults(using))


def sync_roles_after_migrate(sender, apps=None, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate (sent once per app, after auth made that app's permissions): create missing
    groups, and grant each default permission that this run created to its roles."""
    if apps is None:  # a flush, not a migrate
        return
    try:
        apps.get_model("auth", "Group")
    except LookupError:  # auth not migrated in this database
        return
    plan, known = _before_migrate.get(using, (None, set()))
    new = _existing_defaults(using) - known
    _before_migrate[using] = (plan, known | new)
    create_missing_roles(apps, using)
    Group = apps.get_model("auth", "Group")
    for role, names in ROLE_PERMISSIONS.items():
        granted = [name for name in names if name in new]
        if granted:
            Group.objects.using(using).get(name=role).permissions.add(*_default_permissions(apps, using, granted))


def role_of(user) -> str:
    if user.is_superuser or user.is_staff:
        return "admin"
    names = set(user.groups.values_list("name", flat=True))
    if OPERATOR in names:
        return OPERATOR
    if VIEWER in names:
        return VIEWER
    return "none"
