"""One module per channel kind, each with `send(delivery) -> SendResult` (raising SendError).

`send` here picks the module and turns every failure into a SendResult, so the worker and the
test action record outcomes without knowing the formats."""

from __future__ import annotations

import logging

from alerts.channels import dingtalk, email, feishu, webhook, wecom
from alerts.channels.base import SendError, SendResult
from alerts.models import ChannelKind

logger = logging.getLogger(__name__)

SENDERS = {
    ChannelKind.WEBHOOK: webhook.send,
    ChannelKind.DINGTALK: dingtalk.send,
    ChannelKind.WECOM: wecom.send,
    ChannelKind.FEISHU: feishu.send,
    ChannelKind.EMAIL: email.send,
}


def send(delivery) -> SendResult:
    sender = SENDERS.get(delivery.channel.kind)
    if sender is None:
        return SendResult(False, None, f"unknown channel kind {delivery.channel.kind!r}")
    try:
        return sender(delivery)
    except SendError as exc:
        return SendResult(False, exc.status, exc.reason)
    except Exception as exc:  # noqa: BLE001 — a bug in a format must not kill the worker
        logger.exception("alert delivery %s: unexpected error in the %s sender", delivery.id, delivery.channel.kind)
        return SendResult(False, None, f"unexpected error ({type(exc).__name__})")
