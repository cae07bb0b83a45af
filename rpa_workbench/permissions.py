"""Who may call what (API.md §0): authenticated users with Django model permissions.

Superusers and staff are the `admin` role and may do everything; `operator` and `viewer` are
groups whose permissions live in `rpa_workbench.roles`.
"""

from __future__ import annotations

from rest_framework import permissions


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.is_staff))


class ModelPermissions(permissions.DjangoModelPermissions):
    """DjangoModelPermissions that also requires `view_<model>` to read."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if is_admin(request.user):
            return True
        if getattr(view, "_ignore_model_permissions", False) or not hasattr(view, "get_queryset"):
            return True
        return super().has_permission(request, view)


def require_perms(*perms: str) -> type[permissions.BasePermission]:
    """A permission class demanding these Django permissions (admins always pass)."""

    class HasPerms(permissions.BasePermission):
        required = perms

        def has_permission(self, request, view):
            user = request.user
            if not user or not user.is_authenticated:
                return False
            return is_admin(user) or user.has_perms(perms)

    HasPerms.__name__ = "Has_" + "_".join(p.replace(".", "_") for p in perms)
    return HasPerms
