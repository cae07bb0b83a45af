"""Each channel format, against a real local HTTP server standing in for the service, with the
signatures recomputed here independently of alerts/channels/."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail

from alerts import worker
from alerts.models import Delivery, DeliveryStatus
from alerts.services import raise_alert

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


def _raise_and_send(make_channel, make_task, **channel_fields) -> Delivery:
    channel = make_channel(**channel_fields)
    task = make_task(app_name="daily_report")
    raise_alert(event="job_failed", task=task, details={"reason": "robot_reported_failure"})
    assert worker.run_once() == [DeliveryStatus.SENT]
    return Delivery.objects.get(channel=channel)


def test_webhook_posts_the_json_body_with_signed_headers(receiver, make_channel, make_task):
    hook = receiver("/alerts")
    delivery = _raise_and_send(make_channel, make_task, kind="webhook", target=hook.url, secret=SECRET)

    [request] = hook.requests
    assert request.method == "POST" and request.path == "/alerts"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"].startswith("application/json")
    assert headers["x-rpa-event"] == "job_failed"
    assert headers["x-rpa-delivery"] == str(delivery.pk)
    timestamp = headers["x-rpa-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert headers["x-rpa-signature"] == f"sha256={expected}"

    body = json.loads(request.body)
    assert set(body) == {"event", "occurred_at", "message", "account", "task", "job"}
    assert body["event"] == "job_failed" and body["message"] == delivery.message
    assert body["task"]["app_name"] == "daily_report" and body["account"]["id"] == str(delivery.alert.account_id)
    assert body["job"] is None and body["occurred_at"] == delivery.alert.occurred_at.isoformat()
    assert delivery.status == DeliveryStatus.SENT and delivery.last_status == 200 and delivery.sent_at


def test_webhook_without_a_secret_is_sent_unsigned(receiver, make_channel, make_task):
    hook = receiver()
    _raise_and_send(make_channel, make_task, kind="webhook", target=hook.url)
    assert "X-RPA-Signature" not in hook.requests[0].headers


def test_dingtalk_text_message_signed_in_the_query(receiver, make_channel, make_task):
    robot = receiver("/robot/send")
    robot.body = b'{"errcode": 0, "errmsg": "ok"}'
    delivery = _raise_and_send(
        make_channel, make_task, kind="dingtalk", target=robot.url + "?access_token=tok123", secret=SECRET
    )
    [request] = robot.requests
    query = request.query
    assert query["access_token"] == "tok123"
    timestamp = query["timestamp"]
    assert abs(int(timestamp) / 1000 - time.time()) < 60  # milliseconds
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert query["sign"] == base64.b64encode(digest).decode()
    assert json.loads(request.body) == {"msgtype": "text", "text": {"content": delivery.message}}


def test_wecom_text_message_keeps_the_key_in_the_url(receiver, make_channel, make_task):
    robot = receiver("/cgi-bin/webhook/send")
    robot.body = b'{"errcode": 0, "errmsg": "ok"}'
    delivery = _raise_and_send(make_channel, make_task, kind="wecom", target=robot.url + "?key=k-42")
    [request] = robot.requests
    assert request.query == {"key": "k-42"}
    assert json.loads(request.body) == {"msgtype": "text", "text": {"content": delivery.message}}


def test_feishu_text_message_signed_in_the_body(receiver, make_channel, make_task):
    bot = receiver("/open-apis/bot/v2/hook/abc")
    bot.body = b'{"code": 0, "msg": "success", "data": {}}'
    delivery = _raise_and_send(make_channel, make_task, kind="feishu", target=bot.url, secret=SECRET)
    body = json.loads(bot.requests[0].body)
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - time.time()) < 60  # seconds
    digest = hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(digest).decode()
    assert body["msg_type"] == "text" and body["content"] == {"text": delivery.message}


@pytest.mark.parametrize(
    ("kind", "answer", "error"),
    [
        (
            "dingtalk",
            b'{"errcode": 310000, "errmsg": "sign not match"}',
            "errcode 310000: the robot's security settings refused it (signature, keyword or IP)",
        ),
        ("wecom", b'{"errcode": 93000, "errmsg": "invalid webhook url"}', "errcode 93000: the webhook key is not valid"),
        ("feishu", b'{"code": 19021, "msg": "sign match fail"}', "code 19021: signature mismatch"),
    ],
)
def test_a_chat_robot_error_code_is_a_failed_attempt(receiver, make_channel, make_task, kind, answer, error):
    robot = receiver()
    robot.body = answer
    channel = make_channel(kind=kind, target=robot.url)
    raise_alert(event="job_failed", task=make_task())
    assert worker.run_once() == [DeliveryStatus.PENDING]  # retried later
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.last_status == 200 and delivery.last_error == error


def test_email_goes_through_django_email_backend(make_channel, make_task):
    delivery = _raise_and_send(make_channel, make_task, kind="email", target="ops@example.com, oncall@example.com")
    [message] = mail.outbox
    assert message.to == ["ops@example.com", "oncall@example.com"]
    assert message.subject.startswith("[RPA] 运行失败 / Job failed")
    assert message.body == delivery.message


def test_a_non_http_target_is_refused_at_send_time_too(make_channel, make_task):
    channel = make_channel(kind="webhook", target="file:///etc/passwd")  # bypassing validation
    raise_alert(event="job_failed", task=make_task())
    worker.run_once()
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.last_error == "refused: the target is not an http(s) URL"


def test_the_query_of_a_signed_dingtalk_url_keeps_its_other_parameters():
    from alerts.channels.base import with_query

    url = with_query("https://oapi.dingtalk.com/robot/send?access_token=a&timestamp=1", timestamp="2", sign="x+/=")
    query = parse_qs(urlsplit(url).query)
    assert query == {"access_token": ["a"], "timestamp": ["2"], "sign": ["x+/="]}
