"""Execution logs in the admin: read-only history (robots write it), searchable and exportable.

Built for large tables: no full count on every page, related rows joined in the list query,
facet counts off.
"""

from __future__ import annotations

from django.contrib import admin

from executionlogs.export import csv_response
from executionlogs.models import ExecutionLog


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    list_display = [
        "start_time",
        "app_name",
        "shadow_bot_account",
        "host_ip",
        "status",
        "duration",
        "end_time",
        "task",
    ]
    list_filter = ["status", "app_name", "shadow_bot_account"]
    search_fields = ["=id", "app_name", "shadow_bot_account", "host_ip", "text", "=execution_id"]
    date_hierarchy = "start_time"
    ordering = ["-start_time"]
    list_select_related = ["task"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    actions = ["export_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Export selected logs as CSV", permissions=["view"])
    def export_selected(self, request, queryset):
        return csv_response(queryset.order_by("-start_time", "-pk"), request)
