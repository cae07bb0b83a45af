"""The admin site, open to every role: admins (staff) and members of the operator and viewer
groups. Inside, Django's model permissions decide what each sees and may do, so an operator
gets tasks and their actions and a viewer reads only — without making them staff, which in this
project means the `admin` role (API.md §0)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from rpa_workbench import roles
from rpa_workbench.login import ThrottledLoginFormMixin, throttled_login_response


def may_use_admin(user) -> bool:
    return bool(
        user and user.is_active and (user.is_staff or roles.role_of(user) in (roles.OPERATOR, roles.VIEWER))
    )


class RoleAuthenticationForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _("Please enter the correct username and password of an admin, operator or viewer."),
    }

    def confirm_login_allowed(self, user):
        if not user.is_active:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive")
        if not may_use_admin(user):
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class WorkbenchAdminSite(admin.AdminSite):
    site_header = _("RPA Workbench")
    site_title = _("RPA Workbench")
    index_title = _("Robots, tasks and executions")
    login_form = RoleAuthenticationForm
    # The app list beside every page takes 280 px a list needs at 1280 px; the index and the
    # breadcrumbs lead everywhere it did.
    enable_nav_sidebar = False

    def has_permission(self, request) -> bool:
        return may_use_admin(request.user)

    def login(self, request, extra_context=None):
        """Django's login view; a sign-in refused by the throttle answers 429/503 with Retry-After."""
        return throttled_login_response(super().login(request, extra_context))


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (execution history, control audit): view only."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RecentInlineFormSet(BaseInlineFormSet):
    """Only the newest rows of an inline: filtered by the parent first, then ordered and cut.

    Set `recent_limit` and `recent_order` on a subclass (or on the inline, which passes them on).
    """

    recent_limit = 10
    recent_order = "-created_at"

    def get_queryset(self):
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset().order_by(self.recent_order)[: self.recent_limit]
        return self._recent


def recent_formset(limit: int, order: str = "-created_at") -> type[RecentInlineFormSet]:
    """An inline formset showing only the newest `limit` rows (by `order`)."""
    return type("RecentFormSet", (RecentInlineFormSet,), {"recent_limit": limit, "recent_order": order})


class RecentRowsInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A read-only inline of a record's newest rows (set `formset = recent_formset(...)`), each
    linking to its own page."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


class NullsLastChangeList(ChangeList):
    """A change list whose sort on a nullable column puts the empty values last, both ways and
    on every database (PostgreSQL puts NULLs first when descending), as the API's sort_by does."""

    def get_ordering(self, request, queryset):
        return [self._nulls_last(item) for item in super().get_ordering(request, queryset)]

    def _nulls_last(self, item):
        if not isinstance(item, str):
            return item
        name = item.removeprefix("-")
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return item
        if not field.null or field.is_relation:
            return item
        return F(name).desc(nulls_last=True) if item.startswith("-") else F(name).asc(nulls_last=True)


class NullsLastAdminMixin:
    def get_changelist(self, request, **kwargs):
        return NullsLastChangeList
