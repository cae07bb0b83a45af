from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from accounts import services
from accounts.models import Account
from rpa_workbench.admin_site import NullsLastAdminMixin
from rpa_workbench.errors import ApiError


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["shadow_bot_account", "host_ip", "port", "status", "recent_app"]

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                existing_pk = None if self.instance._state.adding else self.instance.pk
                services.ensure_unique(data["shadow_bot_account"], data["host_ip"], data["port"], exclude_pk=existing_pk)
            except ApiError as exc:
                raise forms.ValidationError(exc.message) from None
        return data


@admin.register(Account)
class AccountAdmin(NullsLastAdminMixin, admin.ModelAdmin):
    form = AccountForm
    list_display = [
        "shadow_bot_account",
        "host_ip",
        "port",
        "status",
        "task_count",
        "recent_app",
        "end_time",
        "last_heartbeat_at",
    ]
    list_filter = ["status", "host_ip"]
    search_fields = ["shadow_bot_account", "host_ip", "recent_app", "task_control"]
    readonly_fields = ["id", "task_control", "end_time", "last_heartbeat_at", "created_at", "updated_at"]
    fields = ["id", "shadow_bot_account", "host_ip", "port", "status", "recent_app", *readonly_fields[1:]]
    ordering = ["-created_at"]

    def get_readonly_fields(self, request, obj=None):
        """Status and recent app are the robots' once the account exists (see services.OWNED_FIELDS)."""
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "status", "recent_app"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(task_count=Count("tasks"))

    @admin.display(ordering="task_count", description="tasks")
    def task_count(self, obj: Account) -> int:
        return obj.task_count

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            fresh = Account.objects.get(pk=obj.pk)
            services.update_account(fresh, **fields)
        else:
            created = services.create_account(
                id=obj.id,
                **{name: getattr(obj, name) for name in ("shadow_bot_account", "host_ip", "port", "status", "recent_app")},
            )
            obj.task_control = created.task_control

    def delete_model(self, request, obj):
        services.delete_account(obj)

    def delete_queryset(self, request, queryset):
        for account in queryset:
            services.delete_account(account)
