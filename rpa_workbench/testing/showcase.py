"""A small but complete data set for the tests that look at every operator page: at least one
row of every model the admin lists, with the long names, IPs and statuses that break layouts,
and every stored time at a fixed instant whose UTC and Asia/Shanghai spellings differ.

`admin_pages(showcase)` lists every admin page to look at (lists, change pages, add pages and
our own pages: the index, a robot's queue, the dashboard).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.apps import apps
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, DispatchBackend
from alerts.models import Alert, AlertEvent, Channel, ChannelKind, Delivery, DeliveryStatus, Severity
from executionlogs.models import ExecutionLog
from jobs.models import Job, JobReason, JobSource, JobStatus, snapshot_of
from pools.models import Pool
from tasks.models import ControlOutcome, ControlRequest, Task, TaskPriority, TaskStatus
from workqueues import items as queue_items
from workqueues.models import WorkQueue
from workqueues.validation import ItemInSerializer
from yingdao.models import RobotClient

# 01:38 UTC is 09:38 in Shanghai: a page showing "01:38" shows UTC.
BASE = datetime(2026, 12, 7, 1, 38, 17, tzinfo=UTC)
OUR_APPS = ("accounts", "pools", "tasks", "jobs", "executionlogs", "alerts", "yingdao", "workqueues")


@dataclass
class Showcase:
    objects: dict[str, models.Model] = field(default_factory=dict)

    def __getitem__(self, name: str) -> models.Model:
        return self.objects[name]


def _at(minutes: int) -> datetime:
    """BASE plus some minutes (never a multiple of 8 h, so no UTC spelling equals a local one)."""
    return BASE + timedelta(minutes=minutes)


def build_showcase() -> Showcase:
    shown = Showcase()
    o = shown.objects
    o["account"] = Account.objects.create(
        shadow_bot_account="finance_robot_shanghai_01", host_ip="192.168.100.200", port=18080,
        status="running", recent_app="daily_sales_report_region", last_seen_at=_at(3),
        last_heartbeat_at=_at(3),
    )
    o["yingdao_account"] = Account.objects.create(
        shadow_bot_account="yd_robot_02", host_ip="10.20.30.40", port=1, dispatch_backend=DispatchBackend.YINGDAO,
        yingdao_account_name="yd_robot_02@corp", max_concurrent_jobs=2, end_time=_at(-50),
    )
    o["task"] = Task.objects.create(
        account=o["account"], task_name="每日销售报表 southern_region", app_name="daily_sales_report_region",
        status=TaskStatus.RUNNING, schedule="*/5 * * * *", schedule_timezone="Asia/Shanghai", next_run_at=_at(7),
        trigger_time=_at(24 * 60 + 5), last_run_time=_at(-21), priority=TaskPriority.HIGH, max_retries=2,
        config_json='{"shop": "A"}', config_info=True, remark="nc_second 备注：每五分钟一次",
    )
    o["queued_task"] = Task.objects.create(account=o["account"], task_name="nc_second", app_name="order_sync_v2")
    o["yingdao_task"] = Task.objects.create(
        account=o["yingdao_account"], task_name="库存同步", app_name="inventory_sync",
        yingdao_robot_uuid="9f0c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f",
    )
    o["log"] = ExecutionLog.objects.create(
        task=o["task"], account=o["account"], app_name=o["task"].app_name,
        shadow_bot_account=o["account"].shadow_bot_account, host_ip=o["account"].host_ip, status="failed",
        text="Element not found: 下单按钮", start_time=_at(-21), end_time=_at(-9), duration=754,
        screenshot_path="https://bucket.example.invalid/shots/run_0001.png",
    )
    ExecutionLog.objects.create(
        task=o["yingdao_task"], account=o["yingdao_account"], app_name="inventory_sync", shadow_bot_account="yd_robot_02",
        host_ip="10.20.30.40", status="completed", text="ok", start_time=_at(-95), end_time=_at(-94), duration=42.5,
    )
    o["running_job"] = _job(o["task"], JobStatus.RUNNING, created=-2, dispatched=-2, started=-1)
    o["queued_job"] = _job(o["queued_task"], JobStatus.QUEUED, created=-1)
    o["failed_job"] = _job(
        o["task"], JobStatus.FAILED, created=-22, dispatched=-22, started=-21, finished=-9,
        reason=JobReason.ROBOT_REPORTED_FAILURE, message="Element not found", execution_log=o["log"],
    )
    _job(o["yingdao_task"], JobStatus.COMPLETED, created=-96, dispatched=-96, started=-95, finished=-94, backend="yingdao")
    o["control_request"] = ControlRequest.objects.create(
        task=o["queued_task"], job=o["queued_job"], shadow_bot_account=o["account"].shadow_bot_account,
        host_ip=o["account"].host_ip, port=o["account"].port, app_name="order_sync_v2", action="stop",
        source="admin", outcome=ControlOutcome.SKIPPED, error="TASK_NOT_RUNNING: task nc_second is not running",
    )
    ControlRequest.objects.create(
        task=o["task"], job=o["running_job"], shadow_bot_account=o["account"].shadow_bot_account,
        host_ip=o["account"].host_ip, port=o["account"].port, app_name=o["task"].app_name, action="start",
        source="scheduler", outcome=ControlOutcome.SENT, response_status=200, latency_ms=35, confirmed_at=_at(-1),
        target="START",
    )
    o["channel"] = Channel.objects.create(
        name="运维群 ops webhook", kind=ChannelKind.WEBHOOK, target="https://hooks.example.invalid/rpa",
        events=[AlertEvent.JOB_FAILED, AlertEvent.ROBOT_OFFLINE],
    )
    o["alert"] = Alert.objects.create(
        event=AlertEvent.JOB_FAILED, severity=Severity.CRITICAL, message="【RPA】运行失败：机器人 finance_robot_shanghai_01。\n[RPA] Job failed: robot finance_robot_shanghai_01.",
        account=o["account"], task=o["task"], job_id=o["failed_job"].pk, occurred_at=_at(-9),
        context={"app_name": o["task"].app_name, "shadow_bot_account": o["account"].shadow_bot_account,
                 "reason": JobReason.ROBOT_REPORTED_FAILURE},
    )
    Alert.objects.create(
        event=AlertEvent.SCHEDULE_SKIPPED, severity=Severity.INFO, message="skipped", task=o["queued_task"],
        occurred_at=_at(-33), context={"app_name": "order_sync_v2"},
    )
    o["delivery"] = Delivery.objects.create(
        alert=o["alert"], channel=o["channel"], event=AlertEvent.JOB_FAILED, message=o["alert"].message,
        status=DeliveryStatus.SENT, attempts=1, next_attempt_at=_at(-9), last_status=200, sent_at=_at(-8),
    )
    o["robot_client"] = RobotClient.objects.create(
        robot_client_uuid="c-0001", name="yd_robot_02@corp", status="idle", presence="online",
        client_ip="10.20.30.40", machine_name="DESKTOP-SH-7F3K2", account=o["yingdao_account"], synced_at=_at(-2),
    )
    o["work_queue"] = WorkQueue.objects.create(
        name="Supplier invoices", description="AP team, Shanghai", task=o["task"], max_retries=2, sla_minutes=60,
    )
    queue_items.add_items(queue=o["work_queue"], now=_at(-40), specs=[_item(
        reference="INV-2026-00017", priority=TaskPriority.HIGH, payload={"supplier": "华东物流", "amount": 1280.5},
        due_at=_at(120).isoformat(),
    ), _item(reference="INV-2026-00018", payload={"supplier": "Acme Shanghai", "amount": 99}, defer_until=_at(30).isoformat())])
    o["pool"] = Pool.objects.create(name="华东财务机器人池 finance_pool_east", description="上海 · 三台",
                                    yingdao_group_uuid="7d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6")
    o["pool"].accounts.set([o["account"], o["yingdao_account"]])
    o["pool_task"] = Task.objects.create(
        account=o["account"], task_name="发票导出 invoice_pool", app_name="invoice_pool", pool=o["pool"],
        max_parallel_jobs=2,
    )
    _job(o["pool_task"], JobStatus.RUNNING, created=-4, dispatched=-4, started=-3, any_robot=True)
    _job(o["pool_task"], JobStatus.QUEUED, created=0, any_robot=True)  # after the showcase's oldest queued job
    _pin_automatic_times()
    return shown


def _item(**data) -> dict:
    """A work queue item as the API would take it (validated, defaults filled in)."""
    item = ItemInSerializer(data=data)
    item.is_valid(raise_exception=True)
    return item.validated_data


def _job(task: Task, status: str, *, created: int, dispatched=None, started=None, finished=None, **fields) -> Job:
    return Job.objects.create(
        **snapshot_of(task, task.priority), status=status, source=fields.pop("source", JobSource.ADMIN),
        run_timeout_seconds=3600, wait_timeout_seconds=1800, created_at=_at(created),
        dispatched_at=_at(dispatched) if dispatched is not None else None,
        started_at=_at(started) if started is not None else None,
        finished_at=_at(finished) if finished is not None else None, **fields,
    )


def _pin_automatic_times() -> None:
    """created_at / updated_at (auto_now) at fixed instants too, so every time on a page is known."""
    for model in (Account, Task, ControlRequest, Channel, Delivery, ExecutionLog, Job, WorkQueue, Pool):
        names = [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
        if names:
            model.objects.update(**{name: _at(-120) for name in names})


def stored_datetimes() -> list[datetime]:
    """Every datetime stored in our apps' tables (what a page may show)."""
    found = []
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            names = [f.attname for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)]
            for row in model.objects.values_list(*names) if names else []:
                found += [value for value in row if value is not None]
    return found


def utc_spellings(moments: list[datetime]) -> set[str]:
    """How each moment reads when wrongly shown in UTC, minus any that is also a local reading."""
    utc = {moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for moment in moments}
    local = {timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") for moment in moments}
    return utc - local


def admin_pages(shown: Showcase, *, dashboard: bool = True) -> list[str]:
    """Every admin page: the index, each registered model's list, add page (when it has one) and
    the change page of one of its rows; our own pages (a robot's queue, the dashboard)."""
    pages = ["/admin/"]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if opts.app_label not in (*OUR_APPS, "auth"):
            continue
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if model_admin.has_add_permission(_SuperuserRequest()):
            pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
    for name in ("task", "running_job", "failed_job", "queued_job", "log", "account"):
        obj = shown[name]
        pages.append(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]))
    pages.append(reverse("admin:tasks_task_history", args=[shown["task"].pk]))
    pages.append(reverse("admin:jobs_job_changelist") + f"?account__id__exact={shown['account'].pk}&queue=active")
    pages.append(reverse("admin:jobs_job_changelist") + f"?pool__id__exact={shown['pool'].pk}&queue=active")
    if dashboard:
        pages.append("/dashboard/")
    return list(dict.fromkeys(pages))


class _SuperuserRequest:
    """Enough of a request for `has_add_permission` (asked as a superuser)."""

    class user:  # noqa: N801
        is_active = is_staff = is_superuser = True

        @staticmethod
        def has_perm(perm, obj=None) -> bool:
            return True
