"""The generic signed webhook (API.md §10).

Body: JSON `{event, occurred_at, message, account, task, job}`. Headers: `X-RPA-Event`,
`X-RPA-Delivery` (the delivery's id, the same on every retry), `X-RPA-Timestamp` (Unix seconds)
and, when the channel has a secret, `X-RPA-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>">`."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from alerts.channels.base import SendResult, encode_json, post, require_2xx


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def body_of(delivery) -> dict[str, Any]:
    alert = delivery.alert
    context = alert.context or {}
    account = task = job = None
    if context.get("account_id"):
        account = {
            "id": context["account_id"],
            "shadow_bot_account": context.get("shadow_bot_account"),
            "host_ip": context.get("host_ip"),
            "port": context.get("port"),
        }
    if context.get("task_id"):
        task = {"id": context["task_id"], "task_name": context.get("task_name"), "app_name": context.get("app_name")}
    if context.get("job_id"):
        job = {"id": context["job_id"], "reason": context.get("reason"), "outputs": context.get("outputs")}
    return {
        "event": delivery.event,
        "occurred_at": alert.occurred_at.isoformat(),
        "message": delivery.message,
        "account": account,
        "task": task,
        "job": job,
    }


def send(delivery) -> SendResult:
    channel = delivery.channel
    body = encode_json(body_of(delivery))
    timestamp = str(int(time.time()))
    headers = {
        "X-RPA-Event": delivery.event,
        "X-RPA-Delivery": str(delivery.id),
        "X-RPA-Timestamp": timestamp,
    }
    if channel.secret:
        headers["X-RPA-Signature"] = signature(channel.secret, timestamp, body)
    return require_2xx(post(channel.target, body, headers))
