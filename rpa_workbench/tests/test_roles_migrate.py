"""Issue 13 item 9: `migrate` no longer resets the role groups' permissions (admins edit them);
it creates missing groups and grants permissions that are new to the database; `sync_roles`
adds missing defaults and `sync_roles --reset` restores exactly the defaults."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from rpa_workbench import roles

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("roles_synced")]


def perms(role: str) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False)


def test_edits_made_in_the_admin_survive_migrate():
    operator = Group.objects.get(name=roles.OPERATOR)
    operator.permissions.remove(permission("tasks.delete_task"))
    Group.objects.get(name=roles.VIEWER).permissions.add(permission("auth.view_user"))
    migrate()
    assert "tasks.delete_task" not in perms(roles.OPERATOR)
    assert perms(roles.VIEWER) == set(roles.VIEW_ONLY) | {"auth.view_user"}


def test_a_missing_group_is_created_with_its_defaults():
    Group.objects.filter(name=roles.VIEWER).delete()
    migrate()
    assert perms(roles.VIEWER) == set(roles.VIEW_ONLY)


def test_a_permission_new_to_the_database_goes_to_its_roles():
    """As when a release adds a model: its permission did not exist before this migrate."""
    permission("tasks.control_task").delete()
    Group.objects.get(name=roles.VIEWER).permissions.add(permission("auth.view_user"))
    migrate()
    assert "tasks.control_task" in perms(roles.OPERATOR)
    assert "tasks.control_task" not in perms(roles.VIEWER)
    assert "auth.view_user" in perms(roles.VIEWER)


def test_sync_roles_adds_missing_defaults_and_keeps_extras():
    Group.objects.get(name=roles.OPERATOR).permissions.remove(permission("tasks.delete_task"))
    Group.objects.get(name=roles.OPERATOR).permissions.add(permission("auth.view_user"))
    call_command("sync_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert perms(roles.OPERATOR) == set(roles.ROLE_PERMISSIONS[roles.OPERATOR]) | {"auth.view_user"}


def test_sync_roles_reset_restores_exactly_the_defaults():
    Group.objects.get(name=roles.OPERATOR).permissions.remove(permission("tasks.delete_task"))
    Group.objects.get(name=roles.OPERATOR).permissions.add(permission("auth.view_user"))
    call_command("sync_roles", "--reset", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert perms(roles.OPERATOR) == set(roles.ROLE_PERMISSIONS[roles.OPERATOR])
