"""Buttons on an object's admin page that run the list's own actions on that one object.

A button posts to a small admin view (`<pk>/control/<button>/`) that calls the *list action
itself* with a queryset of that one object, so the permission, the audit and the messages are
exactly the list's, and each rule stays in the workflow the action calls. Used by the task page
(Start / Stop / Force stop) and the job page (Stop / Cancel / Retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse


@dataclass(frozen=True)
class PageButton:
    action: str  # the list action it runs
    label: str
    css: str


class PageButtonsMixin:
    """Set `page_buttons` ({name: PageButton}) and `control_label`; the admin must define
    `has_control_permission(request)`. `buttons_for(obj)` may leave out buttons that cannot
    apply to the object as it is now (the action would refuse them anyway)."""

    change_form_template = "admin/control_change_form.html"
    page_buttons: dict[str, PageButton] = {}
    control_label = ""

    def _control_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_control"

    def get_urls(self):
        control = self.admin_site.admin_view(self.control_view)
        return [
            path("<path:object_id>/control/<str:button>/", control, name=self._control_url_name()),
            *super().get_urls(),
        ]

    def buttons_for(self, obj) -> list[str]:
        return list(self.page_buttons)

    def control_view(self, request, object_id: str, button: str):
        """POST only; runs the matching list action on this one object, then back to its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if button not in self.page_buttons:
            raise Http404
        if not self.has_control_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).filter(pk=object_id)
        if not queryset.exists():
            raise Http404
        getattr(self, self.page_buttons[button].action)(request, queryset)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, admin.utils.unquote(object_id)) if self.has_control_permission(request) else None
        if obj is not None:
            extra_context["control_label"] = self.control_label
            extra_context["control_buttons"] = [
                {
                    "url": reverse(f"admin:{self._control_url_name()}", args=[object_id, name]),
                    "label": self.page_buttons[name].label,
                    "css": self.page_buttons[name].css,
                }
                for name in self.buttons_for(obj)
            ]
        return super().change_view(request, object_id, form_url, extra_context)
