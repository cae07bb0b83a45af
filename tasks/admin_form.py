"""The task form of the admin: what an operator edits on a task's page, with a help text for
every field whose meaning its name does not say, and the config file uploaded right here
(stored by resources.services, as the API's upload)."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from resources import services as resource_services
from resources.signing import link_problem
from rpa_workbench.errors import ApiError
from rpa_workbench.fields import FIRST_YEAR, LAST_YEAR, year_problem
from rpa_workbench.parsers import JSONValueError, loads_json_text
from rpa_workbench.refusals import explain_error
from tasks import editing
from tasks.models import Task, TaskStatus
from tasks.schedules import ScheduleError, validate_schedule
from tasks.serializers import TRIGGER_TIME_SLACK
from yingdao import rules

# Fields the form edits; everything else on a task is written by control, webhooks or the scheduler.
EDITABLE_FIELDS = [
    "task_name",
    "account",
    "app_name",
    "config_file",
    "config_info",
    "config_file_path",
    "config_json",
    "trigger_time",
    "schedule",
    "schedule_timezone",
    "remark",
    "yingdao_robot_uuid",
    "priority",
    "max_retries",
    "retry_delay_seconds",
    "run_timeout_seconds",
    "wait_timeout_seconds",
    "pool",
    "max_parallel_jobs",
]
# Job settings with a default: a post that leaves one out keeps the value it had.
DEFAULTED_FIELDS = ["priority", "max_retries", "retry_delay_seconds", "max_parallel_jobs"]
# The task's job settings, a fieldset of their own on the task page.
JOB_FIELDS = ["priority", "max_retries", "retry_delay_seconds", "run_timeout_seconds", "wait_timeout_seconds"]
# API.md §12: the pool a task may run on, and how many of its jobs run at once there.
POOL_FIELDS = ["pool", "max_parallel_jobs"]


def help_texts() -> dict[str, str]:
    """What each field means where its name does not say it (defaults from the settings)."""
    return {
        "app_name": _("The Yingdao app's name exactly as the robot reports it (matched without regard to case)."),
        "config_file": _("Set when a config file is stored for the task; robots fetch it through the config API."),
        "config_info": _("Whether the task has a config (JSON text or a file) robots should read."),
        "config_file_path": _("The stored config file (set by an upload) or an http(s) URL of one elsewhere."),
        "config_json": _('The config as JSON text, e.g. {"shop": "A"}. Leave empty for none.'),
        "trigger_time": format_lazy(
            _("Start once at this time (in {zone}); cleared when it fires. Leave empty to start by hand."),
            zone=settings.RPA_DISPLAY_TIMEZONE,
        ),
        "schedule": _(
            "Recurring starts as a five-field cron expression: minute hour day month weekday. "
            "E.g. 30 8 * * 1-5 = 08:30 Monday to Friday; */10 * * * * = every ten minutes. Empty = no schedule."
        ),
        "schedule_timezone": format_lazy(
            _("The IANA time zone the schedule is read in, e.g. Asia/Shanghai or Europe/Berlin. Empty = {zone}."),
            zone=settings.RPA_ROBOT_TIMEZONE,
        ),
        "yingdao_robot_uuid": _("For robot accounts on the Yingdao Open API backend: the Yingdao app's UUID."),
        "priority": _("Order in the robot's queue: high before normal before low, then oldest first."),
        "max_retries": _("How many times a failed run (robot failure, run timeout, never confirmed, lost contact) "
                         "is retried automatically; 0 = never. Dispatch failures are never retried."),
        "retry_delay_seconds": _("Seconds to wait before a retry is dispatched."),
        "run_timeout_seconds": format_lazy(
            _("A run longer than this many seconds is stopped and failed (run_timeout). Empty = {seconds} s "
              "(RPA_JOB_RUN_TIMEOUT_SECONDS)."),
            seconds=settings.RPA_JOB_RUN_TIMEOUT_SECONDS,
        ),
        "wait_timeout_seconds": format_lazy(
            _("A job queued longer than this many seconds is cancelled (wait_timeout). Empty = {seconds} s "
              "(RPA_JOB_WAIT_TIMEOUT_SECONDS)."),
            seconds=settings.RPA_JOB_WAIT_TIMEOUT_SECONDS,
        ),
        "remark": _("A note for operators; robots never read it."),
        "pool": _("Run this task on any free robot of this pool (its own robot is added to the pool). "
                  "Empty = its own robot only."),
        "max_parallel_jobs": _("With a pool: how many of its jobs may run at once, each on a different robot."),
    }


def upload_problem(upload) -> str:
    """Why resources.services.validate_config_file refused `upload`, for people."""
    if not upload.size:
        return gettext("The file is empty.")
    if upload.size > settings.RPA_UPLOAD_MAX_BYTES:
        return gettext("The file is larger than the %(limit)d bytes allowed.") % {"limit": settings.RPA_UPLOAD_MAX_BYTES}
    allowed = ", ".join(f".{extension}" for extension in resource_services.allowed_extensions())
    return gettext("Files of this type are not accepted; allowed: %(allowed)s.") % {"allowed": allowed}


class TaskForm(forms.ModelForm):
    config_upload = forms.FileField(label=_("upload a config file"), required=False)

    class Meta:
        model = Task
        fields = EDITABLE_FIELDS
        widgets = {"config_json": forms.Textarea(attrs={"rows": 6, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, text in help_texts().items():
            if name in self.fields:
                self.fields[name].help_text = text
        for name in DEFAULTED_FIELDS:  # left out of a post = as before (the model's default for a new task)
            if name in self.fields:
                self.fields[name].required = False
        self.fields["config_upload"].help_text = gettext(
            "Stored on the server (earlier files are kept); the task then points at it. Allowed: %(extensions)s."
        ) % {"extensions": ", ".join(f".{extension}" for extension in resource_services.allowed_extensions())}
        # The scheduler clears a fired trigger_time. Whether the user changed it is judged against
        # the value the page showed (a hidden copy), not the row now, so an untouched field
        # never re-arms a one-shot that fired while the form was open.
        if "trigger_time" in self.fields:  # not for users who may only view
            self.fields["trigger_time"].show_hidden_initial = True

    def _clean_defaulted(self):
        return {
            name: getattr(self.instance, name) if self.cleaned_data.get(name) in (None, "") else self.cleaned_data[name]
            for name in DEFAULTED_FIELDS
            if name in self.cleaned_data
        }

    def clean_config_json(self) -> str | None:
        text = self.cleaned_data.get("config_json")
        if text is None or not text.strip():
            return None
        try:
            loads_json_text(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                gettext("Must be valid JSON (%(problem)s at line %(line)s column %(column)s).")
                % {"problem": exc.msg, "line": exc.lineno, "column": exc.colno}
            ) from None
        except JSONValueError as exc:
            raise forms.ValidationError(gettext("Must be storable JSON: %(problem)s.") % {"problem": exc}) from None
        return text

    def clean_config_file_path(self) -> str | None:
        value = self.cleaned_data.get("config_file_path")
        if value and link_problem(value):
            raise forms.ValidationError(_("Must be an http(s) URL with a host, or the path of a stored file."))
        return value

    def clean_config_upload(self):
        upload = self.cleaned_data.get("config_upload")
        if upload:
            try:
                resource_services.validate_config_file(upload)
            except ApiError:
                raise forms.ValidationError(upload_problem(upload)) from None
        return upload

    def clean_trigger_time(self):
        value = self.cleaned_data.get("trigger_time")
        if year_problem(value):
            raise forms.ValidationError(
                gettext("Must be between the years %(first)d and %(last)d.") % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        unchanged = not self.instance._state.adding and value == self.instance.trigger_time
        if value is not None and not unchanged and value < timezone.now() - TRIGGER_TIME_SLACK:
            raise forms.ValidationError(_("Must be in the future (leave it empty to start the task by hand)."))
        return value

    def clean(self):
        data = super().clean()
        data.update(self._clean_defaulted())
        self._clean_schedule(data)
        self._clean_binding(data)
        if "account" in data and "yingdao_robot_uuid" in data:
            errors = rules.task_errors(account=data["account"], yingdao_robot_uuid=data["yingdao_robot_uuid"])
            for field, message in errors.items():
                self.add_error(field, message)
        return data

    def _clean_schedule(self, data: dict) -> None:
        if "schedule" not in data or "schedule_timezone" not in data:
            return  # a field error is already shown
        try:
            data["schedule"] = validate_schedule(data["schedule"] or "", data["schedule_timezone"] or "")
        except ScheduleError as exc:
            self.add_error(exc.field, exc.label)

    def _clean_binding(self, data: dict) -> None:
        account, app_name = data.get("account"), data.get("app_name")
        if account is None or not app_name:
            return
        instance = self.instance
        adding = instance._state.adding
        if not adding and instance.status == TaskStatus.RUNNING:
            moved = [
                name
                for name, new, old in (
                    ("account", account.pk, instance.account_id),
                    ("app_name", app_name.lower(), (instance.app_name or "").lower()),
                )
                if new != old
            ]
            if moved:
                for name in moved:
                    self.add_error(name, _("The task is running: stop it before changing this."))
                return
        try:
            editing.ensure_unique_app(account, app_name, exclude_pk=None if adding else instance.pk)
        except ApiError as exc:
            self.add_error("app_name", explain_error(exc))


