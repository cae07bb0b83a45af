"""Robot pools in the admin (API.md §12): each pool with its robots and their presence, how many of
its jobs run and wait, and a link to the pool's queue (the Jobs list filtered by the pool, in
dispatch order, like a robot's queue). Edits follow the API's rules (pools.services)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import presence
from jobs.models import BUSY, Job, JobStatus
from pools import services
from pools.models import Pool
from rpa_workbench.badges import choice_badge


def pool_queue_url(pool_id) -> str:
    """The Jobs list as the pool's queue: its active jobs, busy first, then in dispatch order."""
    return reverse("admin:jobs_job_changelist") + "?" + urlencode({"pool__id__exact": pool_id, "queue": "active"})


class PoolForm(forms.ModelForm):
    class Meta:
        model = Pool
        fields = ["name", "description", "accounts", "yingdao_group_uuid"]

    def clean_accounts(self):
        accounts = self.cleaned_data["accounts"]
        task = services.own_robot_dropped(self.instance, list(accounts)) if self.instance.pk is not None else None
        if task is not None:
            raise forms.ValidationError(
                gettext("Robot %(robot)s runs task %(task)s on this pool and must stay a member "
                        "(move the task to another robot first).") % {"robot": task.account.task_control, "task": task.task_name}
            )
        return accounts


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    form = PoolForm
    list_display = ["name", "robot_count", "presence_summary", "running", "queued", "yingdao_group_uuid"]
    search_fields = ["name", "description"]
    filter_horizontal = ["accounts"]
    readonly_fields = ["members", "job_queue", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "description", "accounts"]}),
        (_("Robots and queue"), {"fields": ["members", "job_queue"]}),
        (_("Yingdao"), {"fields": ["yingdao_group_uuid"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    show_facets = admin.ShowFacets.NEVER

    def get_queryset(self, request):
        """Per-row subqueries: the page's count stays a plain COUNT of the pools."""
        jobs_of = Job.objects.filter(pool=OuterRef("pk")).order_by().values("pool")
        waiting = jobs_of.filter(status=JobStatus.QUEUED, any_robot=True)
        return (
            super().get_queryset(request)
            .annotate(n_robots=Count("accounts", distinct=True))
            .annotate(
                n_running=Coalesce(Subquery(jobs_of.filter(status__in=BUSY).annotate(n=Count("pk")).values("n")), 0),
                n_queued=Coalesce(Subquery(waiting.annotate(n=Count("pk")).values("n")), 0),
            )
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # a new pool: nothing to show about robots and jobs yet
            return [(None, {"fields": ["name", "description", "accounts", "yingdao_group_uuid"]})]
        return self.fieldsets

    @admin.display(description=_("robots"), ordering="n_robots")
    def robot_count(self, obj: Pool) -> int:
        return obj.n_robots

    @admin.display(description=_("running"), ordering="n_running")
    def running(self, obj: Pool) -> str:
        return format_html('<a href="{}">{}</a>', pool_queue_url(obj.pk), obj.n_running)

    @admin.display(description=_("queued"), ordering="n_queued")
    def queued(self, obj: Pool) -> str:
        return format_html('<a href="{}">{}</a>', pool_queue_url(obj.pk), obj.n_queued)

    @admin.display(description=_("presence"))
    def presence_summary(self, obj: Pool) -> str:
        """How many of its robots are online, busy, offline or unknown (each robot counted once)."""
        counts = dict(
            presence.with_presence(obj.accounts.all()).order_by().values("presence").annotate(n=Count("pk"))
            .values_list("presence", "n")
        )
        labels = dict(presence.PRESENCE_CHOICES)
        shown = [(choice_badge(presence.PRESENCE_CHOICES, value), counts[value]) for value in labels if counts.get(value)]
        return format_html_join(" ", "{} {}", shown) if shown else "-"

    @admin.display(description=_("robots"))
    def members(self, obj: Pool) -> str:
        """Each robot with its presence, a link to its page and its tasks bound to this pool."""
        rows = presence.with_presence(obj.accounts.annotate(
            own_tasks=Count("tasks", filter=Q(tasks__pool=obj))
        )).order_by("shadow_bot_account")
        if not rows:
            return gettext("no robots yet")
        return format_html(
            '<ul class="pool-members">{}</ul>',
            format_html_join("", '<li>{} <a href="{}">{}</a> <span class="muted">{}</span></li>', (
                (choice_badge(presence.PRESENCE_CHOICES, robot.presence),
                 reverse("admin:accounts_account_change", args=[robot.pk]), robot.task_control,
                 gettext("%(n)d tasks of this pool bound to it") % {"n": robot.own_tasks} if robot.own_tasks else "")
                for robot in rows
            )),
        )

    @admin.display(description=_("job queue"))
    def job_queue(self, obj: Pool) -> str:
        jobs = Job.objects.filter(pool=obj)
        busy, queued = jobs.filter(status__in=BUSY).count(), jobs.filter(status=JobStatus.QUEUED).count()
        text = gettext("%(busy)d running, %(queued)d queued — open the queue") % {"busy": busy, "queued": queued}
        return format_html('<a href="{}">{}</a>', pool_queue_url(obj.pk), text)

    def delete_model(self, request, obj):
        services.delete_pool(pool=obj)
