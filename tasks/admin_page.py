"""A task's admin page: Start / Stop / Force stop buttons, and the status badge.

The buttons post to one small admin view that runs the *list actions themselves*
(`start_selected`, `stop_selected`, `force_stop_selected` of TaskAdmin) on that one task, so
permissions, audit (source `admin`) and messages are exactly the list's. Mixed into TaskAdmin;
kept apart so the actions' implementation can change without touching the page.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from rpa_workbench.badges import choice_badge
from tasks.models import Task, TaskStatus

# button name → (the list action it runs, label, css class)
PAGE_BUTTONS = {
    "start": ("start_selected", _("Start"), "start"),
    "stop": ("stop_selected", _("Stop"), "stop"),
    "force-stop": ("force_stop_selected", _("Force stop"), "force-stop"),
}


class TaskPageMixin:
    change_form_template = "admin/tasks/task/change_form.html"

    @admin.display(ordering="status", description=_("status"))
    def status_badge(self, obj: Task):
        return choice_badge(TaskStatus, obj.status)

    def get_urls(self):
        control = self.admin_site.admin_view(self.control_view)
        return [
            path("<path:object_id>/control/<str:button>/", control, name="tasks_task_control"),
            *super().get_urls(),
        ]

    def control_view(self, request, object_id: str, button: str):
        """POST only; runs the matching list action on this one task, then back to its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if button not in PAGE_BUTTONS:
            raise Http404
        if not self.has_control_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).filter(pk=object_id)
        if not queryset.exists():
            raise Http404
        action_name = PAGE_BUTTONS[button][0]
        getattr(self, action_name)(request, queryset)
        return HttpResponseRedirect(reverse("admin:tasks_task_change", args=[object_id]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_control_permission(request):
            extra_context["control_buttons"] = [
                {"url": reverse("admin:tasks_task_control", args=[object_id, name]), "label": label, "css": css}
                for name, (_action, label, css) in PAGE_BUTTONS.items()
            ]
        return super().change_view(request, object_id, form_url, extra_context)
