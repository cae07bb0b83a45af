"""WeCom (企业微信) group robot: a `text` message POSTed to
`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`. No signing: the key in the URL is
the credential (so the target itself is sensitive and never logged). Answers `errcode` 0."""

from __future__ import annotations

from alerts.channels.base import SendResult, encode_json, post, robot_result


def send(delivery) -> SendResult:
    body = encode_json({"msgtype": "text", "text": {"content": delivery.message}})
    return robot_result(post(delivery.channel.target, body), "errcode")
