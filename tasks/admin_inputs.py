"""A task's parameters and "Start with inputs…" in the admin (API.md §11).

- The task page edits its parameters, one row each (`TaskParameterInline`), checked by the rules
  of `tasks.parameters`; a secret's default is never rendered back (left blank: kept).
- "Start with inputs…" (a button on the task page, and a list action for one task) shows one
  typed field per parameter, required ones marked, and starts a job through
  `jobs.services.start_job` with source `admin` (queued for the dispatcher), then opens the job.
- "Load parameters from Yingdao" (a `yingdao` task) replaces the list with the app's
  `robot/v2/queryRobotParam` inputs, keeping what the operator set (required, secret, a
  description or default Yingdao lacks) for names already declared.
Mixed into TaskAdmin.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rpa_workbench.errors import ApiError
from tasks import parameters as task_parameters
from tasks.models import ParameterType, Task, TaskParameter

INPUTS_DIR = "inputs"


class TaskParameterForm(forms.ModelForm):
    default = forms.CharField(
        label=_("default"), required=False, max_length=8000, widget=forms.TextInput(attrs={"size": 14})
    )

    class Meta:
        model = TaskParameter
        fields = ["position", "name", "type", "required", "default", "description", "secret"]
        widgets = {  # one row fits 1280 px beside the admin's sidebar
            "position": forms.NumberInput(attrs={"style": "width: 3.5em"}),
            "name": forms.TextInput(attrs={"size": 14}),
            "description": forms.TextInput(attrs={"size": 20}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.secret:
            self.fields["default"].widget = forms.PasswordInput(
                render_value=False, attrs={"placeholder": gettext("unchanged (secret)"), "size": 14}
            )
            self.initial["default"] = ""
        elif self.instance.pk is not None and self.instance.default is not None:
            self.initial["default"] = _as_text(self.instance.default)

    def clean(self):
        data = super().clean()
        raw_default = data.get("default")
        keep_secret = self.instance.pk is not None and self.instance.secret and data.get("secret") and not raw_default
        default = self.instance.default if keep_secret else (raw_default if raw_default not in (None, "") else None)
        try:
            checked = task_parameters.definition({
                "name": data.get("name") or "", "type": data.get("type") or ParameterType.STR,
                "required": bool(data.get("required")), "default": default,
                "description": data.get("description") or "", "secret": bool(data.get("secret")),
            })  # fmt: skip
        except task_parameters.ParameterError as exc:
            raise forms.ValidationError(exc.message) from None
        data["name"], data["default"] = checked.name, checked.default
        return data


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TaskParameterInline(admin.TabularInline):
    model = TaskParameter
    form = TaskParameterForm
    fields = ["position", "name", "type", "required", "default", "description", "secret"]
    extra = 0
    max_num = task_parameters.MAX_PARAMETERS
    verbose_name = _("parameter")
    verbose_name_plural = _("Parameters (inputs each start may pass)")


# -- the start form -------------------------------------------------------------------------------
FILE_PATH_SUFFIX = "__path"


def _field_for(parameter: TaskParameter) -> forms.Field:
    needed = parameter.required and parameter.default is None
    hint = parameter.description
    if parameter.default is not None:
        shown = "******" if parameter.secret else _as_text(parameter.default)
        hint = (hint + " — " if hint else "") + gettext("Default: %(value)s") % {"value": shown}
    common = {"label": parameter.name, "required": needed, "help_text": hint}
    if parameter.type == ParameterType.INT:
        return forms.IntegerField(**common)
    if parameter.type == ParameterType.FLOAT:
        return forms.FloatField(**common)
    if parameter.type == ParameterType.BOOL:
        choices = [("true", gettext("Yes")), ("false", gettext("No"))]
        if not needed:
            choices.insert(0, ("", gettext("(default)")))
        return forms.ChoiceField(choices=choices, **common)
    if parameter.type == ParameterType.FILE:
        return forms.FileField(**{**common, "required": False})
    widget = forms.PasswordInput(render_value=False) if parameter.secret else forms.TextInput(attrs={"size": 40})
    return forms.CharField(widget=widget, max_length=8000, strip=False, **common)


class StartWithInputsForm(forms.Form):
    """One field per parameter of `task`, in its order; a `file` one is an upload or a path/URL."""

    def __init__(self, task: Task, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.task = task
        self.declared = list(task.parameters.all())
        for parameter in self.declared:
            self.fields[parameter.name] = _field_for(parameter)
            if parameter.type == ParameterType.FILE:
                self.fields[parameter.name + FILE_PATH_SUFFIX] = forms.CharField(
                    label=gettext("%(name)s — or a stored file's path / URL") % {"name": parameter.name},
                    required=False, max_length=1000,
                )

    def clean(self):
        data = super().clean()
        for parameter in self.declared:
            if parameter.type != ParameterType.FILE:
                continue
            given = data.get(parameter.name) or data.get(parameter.name + FILE_PATH_SUFFIX)
            if parameter.required and parameter.default is None and not given:
                self.add_error(parameter.name, gettext("This field is required."))
        return data

    def inputs(self) -> dict:
        """The values to start with: empty fields left out (their defaults apply); an uploaded
        file stored under inputs/ and passed as its path."""
        values = {}
        for parameter in self.declared:
            value = self.cleaned_data.get(parameter.name)
            if parameter.type == ParameterType.FILE:
                value = self._store(value) if value else (self.cleaned_data.get(parameter.name + FILE_PATH_SUFFIX) or None)
            if value is None or value == "":
                continue
            values[parameter.name] = value
        return values

    def _store(self, upload) -> str:
        stamp = timezone.localtime().strftime("%Y%m%d_%H%M%S_%f")
        try:
            filename = get_valid_filename(upload.name or "file")
        except SuspiciousFileOperation:  # a name like ".." has nothing safe left
            filename = "file"
        name = f"{INPUTS_DIR}/{self.task.pk}/{stamp}_{filename}"
        return default_storage.save(name, upload)


class TaskInputsMixin:
    """URLs, views and the list action of "Start with inputs…" and "Load parameters from Yingdao"."""

    def get_urls(self):
        start = self.admin_site.admin_view(self.start_with_inputs_view)
        load = self.admin_site.admin_view(self.load_yingdao_parameters_view)
        return [
            path("<path:object_id>/start-with-inputs/", start, name="tasks_task_start_with_inputs"),
            path("<path:object_id>/load-yingdao-parameters/", load, name="tasks_task_load_yingdao_parameters"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        task = Task.objects.select_related("account").filter(pk=object_id).first()
        if task is not None and self.has_control_permission(request):
            extra_context["start_with_inputs_url"] = reverse("admin:tasks_task_start_with_inputs", args=[object_id])
        if task is not None and task.account.dispatch_backend == "yingdao" and self.has_change_permission(request, task):
            extra_context["load_parameters_url"] = reverse("admin:tasks_task_load_yingdao_parameters", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Start with inputs…"), permissions=["control"])
    def start_with_inputs(self, request, queryset):
        tasks = list(queryset[:2])
        if len(tasks) != 1:
            self.message_user(request, gettext("Choose exactly one task to start with inputs."), messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:tasks_task_start_with_inputs", args=[tasks[0].pk]))

    def start_with_inputs_view(self, request, object_id: str):
        if not self.has_control_permission(request):
            raise PermissionDenied
        task = get_object_or_404(Task.objects.select_related("account"), pk=object_id)
        form = StartWithInputsForm(task, request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            from jobs import dispatcher
            from jobs import services as job_services
            from jobs.models import JobSource

            try:
                job = job_services.start_job(
                    task=task, source=JobSource.ADMIN, user=request.user, inputs=form.inputs(), inline=False
                ).job
            except ApiError as exc:
                form.add_error(None, exc.message)
            else:
                dispatcher.dispatch_pending()
                self.message_user(request, gettext("Started %(task)s: job %(job)s.") % {"task": task.task_name, "job": job.pk})
                return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Start with inputs: %(task)s") % {"task": task.task_name},
            "subtitle": task.task_name, "opts": self.model._meta, "original": task, "form": form,
            "task_url": reverse("admin:tasks_task_change", args=[task.pk]),
        }  # fmt: skip
        return TemplateResponse(request, "admin/tasks/task/start_with_inputs.html", context)

    def load_yingdao_parameters_view(self, request, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        task = get_object_or_404(Task.objects.select_related("account"), pk=object_id)
        if not self.has_change_permission(request, task):
            raise PermissionDenied
        if task.account.dispatch_backend != "yingdao":
            raise Http404
        self.message_user(request, *load_from_yingdao(task))
        return HttpResponseRedirect(reverse("admin:tasks_task_change", args=[task.pk]))


def load_from_yingdao(task: Task) -> tuple[str, int]:
    """Replace the task's parameters with its Yingdao app's inputs: (message, level)."""
    from yingdao.client import YingdaoError
    from yingdao.params import app_parameters

    if not task.yingdao_robot_uuid:
        return gettext("Set the Yingdao robot UUID first."), messages.ERROR
    try:
        loaded = app_parameters(task.yingdao_robot_uuid)
    except YingdaoError as exc:
        return gettext("Yingdao did not answer the parameter list: %(reason)s") % {"reason": exc.message}, messages.ERROR
    known = {item.name: item for item in task_parameters.current(task)}
    merged = []
    for item in loaded:
        before = known.get(item["name"])
        if before is not None:
            item.update(required=before.required, secret=before.secret,
                        description=item["description"] or before.description,
                        default=before.default if item["default"] is None else item["default"])  # fmt: skip
        merged.append(item)
    try:
        checked = task_parameters.definitions(merged)
    except task_parameters.ParameterError as exc:
        return gettext("Yingdao's parameter list was not loaded: %(reason)s") % {"reason": str(exc)}, messages.ERROR
    with transaction.atomic():
        task_parameters.replace(task, checked)
    return gettext("Loaded %(count)d parameter(s) from Yingdao.") % {"count": len(checked)}, messages.SUCCESS
