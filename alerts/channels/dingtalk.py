"""DingTalk (钉钉) custom robot: a `text` message POSTed to the robot's webhook URL
(`https://oapi.dingtalk.com/robot/send?access_token=...`).

With a secret (加签), `timestamp` (milliseconds) and `sign` = base64(HMAC-SHA256(key=secret,
"<timestamp>\\n<secret>")) are added to the query. DingTalk answers 200 with `errcode` 0 on
success."""

from __future__ import annotations

import time

from alerts.channels.base import SendResult, b64, encode_json, hmac_sha256, post, robot_result, with_query


def sign(secret: str, timestamp_ms: str) -> str:
    return b64(hmac_sha256(secret, f"{timestamp_ms}\n{secret}"))


def send(delivery) -> SendResult:
    channel = delivery.channel
    url = channel.target
    if channel.secret:
        timestamp = str(int(time.time() * 1000))
        url = with_query(url, timestamp=timestamp, sign=sign(channel.secret, timestamp))
    body = encode_json({"msgtype": "text", "text": {"content": delivery.message}})
    return robot_result(post(url, body), "errcode")
