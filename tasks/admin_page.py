"""A task's admin page: Start / Stop / Force stop buttons (the list actions themselves, on that
one task: rpa_workbench/admin_buttons.py), and the status badge. Mixed into TaskAdmin; kept
apart so the actions' implementation can change without touching the page.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from rpa_workbench.admin_buttons import PageButton, PageButtonsMixin
from rpa_workbench.badges import choice_badge
from tasks.models import Task, TaskStatus

PAGE_BUTTONS = {
    "start": PageButton("start_selected", _("Start"), "start"),
    "stop": PageButton("stop_selected", _("Stop"), "stop"),
    "force-stop": PageButton("force_stop_selected", _("Force stop"), "force-stop"),
}


class TaskPageMixin(PageButtonsMixin):
    page_buttons = PAGE_BUTTONS
    control_label = _("Control this task")

    @admin.display(ordering="status", description=_("status"))
    def status_badge(self, obj: Task):
        return choice_badge(TaskStatus, obj.status)
