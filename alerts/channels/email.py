"""Email through Django's email backend (EMAIL_* settings from RPA_EMAIL_*/DJANGO_EMAIL_*).

The subject names the event in both languages; the body is the alert's message."""

from __future__ import annotations

from django.core.mail import EmailMessage

from alerts import messages
from alerts.channels.base import SendError, SendResult
from alerts.targets import email_addresses


def subject(delivery) -> str:
    zh, en = messages.title(delivery.event)
    context = delivery.alert.context or {}
    robot = context.get("shadow_bot_account")
    return f"[RPA] {zh} / {en}" + (f" — {robot}" if robot else "")


def send(delivery) -> SendResult:
    recipients = email_addresses(delivery.channel.target)
    if not recipients:
        raise SendError("no recipient address")
    try:
        sent = EmailMessage(subject(delivery), delivery.message, to=recipients).send()
    except Exception as exc:  # noqa: BLE001 — SMTP, socket and backend errors alike: a failed send
        # The server's own reply text is never kept (issue 23): its code and our words only.
        code = getattr(exc, "smtp_code", None)
        raise SendError(f"email not sent ({type(exc).__name__}{f' {code}' if code else ''})") from None
    if not sent:
        raise SendError("email not sent (the backend accepted nothing)")
    return SendResult(True)
