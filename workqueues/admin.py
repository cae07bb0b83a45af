"""Work queues in the admin (API.md §13): queues with their counts and the age of the oldest ready
item, a CSV upload per queue; items filtered by status, reference, priority and date, with bulk
retry and delete (the workflows of `workqueues.items`), payload and output as formatted JSON.
Items are records robots write: nobody edits one by hand."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from dashboard.templatetags.dashboard_tags import duration
from rpa_workbench.errors import ApiError
from workqueues import csv_upload, items
from workqueues.models import ItemStatus, QueueItem, WorkQueue

CHANGE_ITEMS = "workqueues.change_queueitem"
ADD_ITEMS = "workqueues.add_queueitem"
COUNTED = (ItemStatus.NEW, ItemStatus.IN_PROGRESS, ItemStatus.SUCCESSFUL, ItemStatus.FAILED, ItemStatus.ABANDONED)


def items_url(queue_id, **filters) -> str:
    return reverse("admin:workqueues_queueitem_changelist") + "?" + urlencode({"queue__id__exact": queue_id, **filters})


def _count_column(status: str, label) -> Callable:
    @admin.display(description=label, ordering=f"n_{status}")
    def column(obj: WorkQueue) -> str:
        value = getattr(obj, f"n_{status}", 0)
        return format_html('<a href="{}">{}</a>', items_url(obj.pk, status__exact=status), value) if value else "0"

    column.__name__ = f"count_{status}"
    return column


@admin.register(WorkQueue)
class WorkQueueAdmin(admin.ModelAdmin):
    list_display = [
        "name", "task", _count_column(ItemStatus.NEW, _("new")), _count_column(ItemStatus.IN_PROGRESS, _("in progress")),
        _count_column(ItemStatus.SUCCESSFUL, _("successful")), _count_column(ItemStatus.FAILED, _("failed")),
        _count_column(ItemStatus.ABANDONED, _("abandoned")), "oldest_ready", "sla_minutes",
    ]  # fmt: skip
    search_fields = ["name"]
    list_select_related = ["task"]
    readonly_fields = ["counts", "oldest_ready", "upload_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "description", "task", "counts", "oldest_ready", "upload_link"]}),
        (_("Retries and timeouts"), {"fields": ["max_retries", "retry_delay_seconds", "abandon_after_minutes", "sla_minutes"]}),
        (_("References"), {"fields": ["unique_references"]}),
        (_("Trigger"), {"fields": ["trigger_min_items", "trigger_max_jobs"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    autocomplete_fields = ["task"]
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        now = timezone.now()
        ready = Q(items__status=ItemStatus.NEW) & (Q(items__defer_until__isnull=True) | Q(items__defer_until__lte=now))
        counts = {f"n_{status}": Count("items", filter=Q(items__status=status)) for status in COUNTED}
        return super().get_queryset(request).annotate(**counts, oldest_ready_at=Min("items__created_at", filter=ready))

    @admin.display(description=_("oldest ready item waited"), ordering="oldest_ready_at")
    def oldest_ready(self, obj: WorkQueue) -> str:
        oldest = getattr(obj, "oldest_ready_at", None)
        if oldest is None:
            return "-"
        late = obj.sla_minutes and (timezone.now() - oldest).total_seconds() > obj.sla_minutes * 60
        text = duration((timezone.now() - oldest).total_seconds())
        return format_html('<b class="sla-late">{} ⚠</b>', text) if late else text

    @admin.display(description=_("items"))
    def counts(self, obj: WorkQueue) -> str:
        if obj.pk is None:
            return "-"
        parts = [
            format_html('<a href="{}">{}: {}</a>', items_url(obj.pk, status__exact=status), label, getattr(obj, f"n_{status}", 0))
            for status, label in ItemStatus.choices if status in COUNTED
        ]
        return format_html(" · ".join(["{}"] * len(parts)), *parts)

    @admin.display(description=_("CSV upload"))
    def upload_link(self, obj: WorkQueue) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a class="button" href="{}">{}</a>', reverse("admin:workqueues_workqueue_upload", args=[obj.pk]),
                           gettext("Upload items from a CSV file"))

    def get_urls(self):
        upload = path("<uuid:queue_id>/upload/", self.admin_site.admin_view(self.upload_view), name="workqueues_workqueue_upload")
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest, queue_id) -> HttpResponse:
        """A CSV of items, all or nothing; every wrong line listed with its number."""
        if not request.user.has_perm(ADD_ITEMS):
            raise PermissionDenied
        queue = get_object_or_404(WorkQueue, pk=queue_id)
        errors: list[dict] = []
        if request.method == "POST":
            upload = request.FILES.get("file")
            if upload is None:
                errors = [{"line": 0, "message": gettext("Choose a CSV file.")}]
            else:
                result = csv_upload.upload(queue=queue, raw=upload.read())
                errors = result.errors
                if not errors:
                    self.message_user(request, ngettext("%(count)d item added to %(queue)s.", "%(count)d items added to %(queue)s.",
                                                        result.created) % {"count": result.created, "queue": queue.name})
                    return HttpResponseRedirect(items_url(queue.pk))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": queue, "queue": queue,
            "errors": errors, "title": gettext("Upload items to %(queue)s") % {"queue": queue.name},
            "columns": "reference,priority,payload,defer_until,due_at",
        }
        return TemplateResponse(request, "workqueues/admin/upload.html", context)


def pretty_json(value) -> str:
    if value is None:
        return "-"
    return format_html('<pre class="queue-json">{}</pre>', json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))


@admin.register(QueueItem)
class QueueItemAdmin(admin.ModelAdmin):
    list_display = ["short_id", "reference", "queue", "status", "priority", "retry_number", "error_type", "account",
                    "created_at", "started_at", "finished_at"]  # fmt: skip
    list_filter = ["status", "priority", "error_type", ("queue", admin.RelatedFieldListFilter), "created_at"]
    search_fields = ["=reference", "=id"]
    search_help_text = _("The exact reference or item ID.")
    list_select_related = ["queue", "account"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["retry_selected", "delete_selected_items"]
    show_facets = admin.ShowFacets.NEVER
    fields = ["queue", "reference", "status", "priority", "retry_number", "retry_of", "error_type", "error_message",
              "payload_json", "output_json", "defer_until", "due_at", "account", "job", "created_at", "started_at",
              "finished_at"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_items_permission(self, request) -> bool:
        return request.user.has_perm(CHANGE_ITEMS)

    def get_actions(self, request):
        return {name: action for name, action in super().get_actions(request).items() if name != "delete_selected"}

    @admin.display(description=_("item"), ordering="id")
    def short_id(self, obj: QueueItem) -> str:
        return str(obj.pk)[:8]

    @admin.display(description=_("payload"))
    def payload_json(self, obj: QueueItem) -> str:
        return pretty_json(obj.payload)

    @admin.display(description=_("output"))
    def output_json(self, obj: QueueItem) -> str:
        return pretty_json(obj.output)

    def changelist_view(self, request, extra_context=None):
        # Django silently ignores an action it does not offer; a forged one is a 403.
        forged = set(request.POST.getlist("action")) & set(self.actions) if request.method == "POST" else set()
        if forged and not self.has_items_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Retry selected failed or abandoned items"), permissions=["items"])
    def retry_selected(self, request, queryset):
        self._each(request, queryset, lambda item: items.retry_item(item=item), gettext("retried"))

    @admin.action(description=_("Delete selected new items"), permissions=["items"])
    def delete_selected_items(self, request, queryset):
        self._each(request, queryset, lambda item: items.delete_item(item=item), gettext("deleted"))

    def _each(self, request, queryset, act: Callable[[QueueItem], QueueItem], done: str) -> None:
        """One call per item; a refusal for one does not stop the others."""
        succeeded = 0
        for item in queryset.select_related("queue").order_by("created_at")[:1000]:
            label = item.reference or str(item.pk)[:8]
            try:
                act(item)
            except ApiError as exc:
                self.message_user(request, f"{label}: {gettext('refused')}: {exc.message}", messages.WARNING)
                continue
            succeeded += 1
        if succeeded:
            self.message_user(request, ngettext("%(count)d item %(done)s.", "%(count)d items %(done)s.", succeeded)
                              % {"count": succeeded, "done": done}, messages.SUCCESS)
