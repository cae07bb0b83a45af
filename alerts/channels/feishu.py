"""Feishu (飞书) custom bot: `{"msg_type": "text", "content": {"text": ...}}` POSTed to
`https://open.feishu.cn/open-apis/bot/v2/hook/...`.

With a secret (签名校验), the body also carries `timestamp` (seconds) and `sign` =
base64(HMAC-SHA256 with key "<timestamp>\\n<secret>" over an empty message). Feishu answers 200
with `code` 0 (older deployments: `StatusCode` 0)."""

from __future__ import annotations

import time

from alerts.channels.base import SendResult, b64, encode_json, hmac_sha256, post, robot_result


def sign(secret: str, timestamp: str) -> str:
    return b64(hmac_sha256(f"{timestamp}\n{secret}", b""))


def send(delivery) -> SendResult:
    channel = delivery.channel
    body: dict = {"msg_type": "text", "content": {"text": delivery.message}}
    if channel.secret:
        timestamp = str(int(time.time()))
        body = {"timestamp": timestamp, "sign": sign(channel.secret, timestamp), **body}
    return robot_result(post(channel.target, encode_json(body)), "code", "StatusCode")
