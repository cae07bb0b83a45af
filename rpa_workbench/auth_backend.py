"""Django's ModelBackend, reading a user's permissions in one query instead of two.

`ModelBackend.get_all_permissions` (public API) is answered from one query over the user's own
and their groups' permissions, cached on the user object for the request. With JWT
authentication (one query for the user) a permission check then costs one more query at most,
none for admins (`rpa_workbench.permissions.is_admin`)."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q

CACHE_ATTRIBUTE = "_rpa_all_permissions"


class OneQueryModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        cached = getattr(user_obj, CACHE_ATTRIBUTE, None)
        if cached is None:
            if user_obj.is_superuser:
                rows = Permission.objects.values_list("content_type__app_label", "codename")
            else:
                rows = (
                    Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
                    .values_list("content_type__app_label", "codename")
                    .distinct()
                )
            cached = {f"{app_label}.{codename}" for app_label, codename in rows}
            setattr(user_obj, CACHE_ATTRIBUTE, cached)
        return cached
