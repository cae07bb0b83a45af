"""Alert messages: short, in Chinese and English, saying robot, app, what happened and when (in
RPA_ROBOT_TIMEZONE), with a link to the job or log page when RPA_PUBLIC_URL is set."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.conf import settings

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
}
TEST_TITLES = ("测试消息", "Test message")


def title(event: str) -> tuple[str, str]:
    return TITLES.get(event, TEST_TITLES)


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
        ("task_id", "/admin/tasks/task/{}/change/"),
        ("account_id", "/admin/accounts/account/{}/change/"),
    ):
        if context.get(key):
            return base + path.format(context[key])
    return base + "/dashboard/"


def compose(event: str, context: dict[str, Any], occurred_at: datetime) -> str:
    """Two lines (中文 then English), plus the link when there is one."""
    zh, en = title(event)
    robot = context.get("shadow_bot_account") or "-"
    app = context.get("app_name")
    when = robot_time(occurred_at)
    reason = context.get("reason") or ""
    zh_line = f"【RPA】{zh}：机器人 {robot}" + (f"，应用 {app}" if app else "") + f"，时间 {when}"
    en_line = f"[RPA] {en}: robot {robot}" + (f", app {app}" if app else "") + f", at {when}"
    if reason:
        zh_line += f"，原因 {reason}"
        en_line += f", reason: {reason}"
    cause = context.get("cause")
    if cause:  # the job's message, e.g. "relay unreachable: connection refused"
        zh_line += f"（{cause}）"
        en_line += f" ({cause})"
    lines = [zh_line + "。", en_line + "."]
    url = link(context)
    if url:
        lines.append(url)
    return "\n".join(lines)
