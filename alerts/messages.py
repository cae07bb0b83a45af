"""Alert messages: short, in Chinese and English, saying robot, app, what happened and when (in
RPA_ROBOT_TIMEZONE), with a link to the job or log page when RPA_PUBLIC_URL is set."""

from __future__ import annotations

import json
import zoneinfo
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import translation

from alerts.models import AlertEvent

# event → (中文, English)
TITLES: dict[str, tuple[str, str]] = {
    AlertEvent.JOB_FAILED: ("运行失败", "Job failed"),
    AlertEvent.JOB_STOPPED_BY_TIMEOUT: ("运行超时被停止", "Job stopped by timeout"),
    AlertEvent.ROBOT_OFFLINE: ("机器人离线", "Robot offline"),
    AlertEvent.ROBOT_ONLINE: ("机器人恢复在线", "Robot back online"),
    AlertEvent.ROBOT_LOST: ("运行中失去联系", "Robot lost contact during a run"),
    AlertEvent.DISPATCH_FAILED: ("下发失败", "Dispatch failed"),
    AlertEvent.QUEUE_WAIT_EXCEEDED: ("排队超时", "Queue wait exceeded"),
    AlertEvent.SCHEDULE_SKIPPED: ("定时运行被跳过", "Scheduled run skipped"),
    AlertEvent.QUEUE_SLA_BREACHED: ("工作队列超出 SLA", "Work queue SLA breached"),
    AlertEvent.QUEUE_ITEM_FAILED: ("工作队列事项最终失败", "Work queue item failed"),
}
TEST_TITLES = ("测试消息", "Test message")


def title(event: str) -> tuple[str, str]:
    return TITLES.get(event, TEST_TITLES)


def reason_labels(reason: str) -> tuple[str, str]:
    """A job's end reason as people read it (中文, English); an unknown code as it is."""
    from jobs.models import JobReason  # imported here: alerts load before jobs' models are needed

    if reason not in JobReason.values:
        return reason, reason
    label = JobReason(reason).label
    with translation.override("zh-hans"):
        zh = str(label)
    with translation.override("en"):
        return zh, str(label)


def robot_time(moment: datetime) -> str:
    zone = settings.RPA_ROBOT_TIMEZONE
    return f"{moment.astimezone(zoneinfo.ZoneInfo(zone)):%Y-%m-%d %H:%M:%S} ({zone})"


def link(context: dict[str, Any]) -> str:
    """The admin page of the job, else of the execution log, else of the task; "" without
    RPA_PUBLIC_URL."""
    base = settings.RPA_PUBLIC_URL
    if not base:
        return ""
    for key, path in (
        ("job_id", "/admin/jobs/job/{}/change/"),
        ("log_id", "/admin/executionlogs/executionlog/{}/change/"),
        ("queue_id", "/admin/workqueues/workqueue/{}/change/"),
        ("task_id", "/admin/tasks/task/{}/change/"),
        ("account_id", "/admin/accounts/account/{}/change/"),
    ):
        if context.get(key):
            return base + path.format(context[key])
    return base + "/dashboard/"


OUTPUTS_SHOWN = 300


def outputs_line(outputs: dict[str, Any]) -> str:
    """The run's outputs on one line (输出 / outputs), cut to a readable length."""
    text = ", ".join(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in outputs.items())
    if len(text) > OUTPUTS_SHOWN:
        text = text[:OUTPUTS_SHOWN] + "…"
    return f"输出 / outputs: {text}"


def compose(event: str, context: dict[str, Any], occurred_at: datetime) -> str:
    """Two lines (中文 then English), plus the link when there is one."""
    zh, en = title(event)
    robot = context.get("shadow_bot_account") or "-"
    app = context.get("app_name")
    when = robot_time(occurred_at)
    reason = context.get("reason") or ""
    zh_reason, en_reason = reason_labels(reason)
    zh_line = f"【RPA】{zh}：机器人 {robot}" + (f"，应用 {app}" if app else "") + f"，时间 {when}"
    en_line = f"[RPA] {en}: robot {robot}" + (f", app {app}" if app else "") + f", at {when}"
    queue = context.get("queue")
    if queue:
        zh_line += f"，队列 {queue}" + (f"，事项 {context['reference']}" if context.get("reference") else "")
        en_line += f", queue {queue}" + (f", item {context['reference']}" if context.get("reference") else "")
    if reason:
        zh_line += f"，原因：{zh_reason}"
        en_line += f", reason: {en_reason}"
    cause = context.get("cause")
    if cause:  # the job's message, e.g. "relay unreachable: connection refused"
        zh_line += f"（{cause}）"
        en_line += f" ({cause})"
    lines = [zh_line + "。", en_line + "."]
    if context.get("outputs"):
        lines.append(outputs_line(context["outputs"]))
    url = link(context)
    if url:
        lines.append(url)
    return "\n".join(lines)
