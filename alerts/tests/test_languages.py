"""The alerts admin and the dashboard's alerts card in Simplified Chinese for a Chinese browser;
the API's test-send answer stays English whatever the browser."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from alerts.services import raise_alert

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
CHANNELS_URL = "/admin/alerts/channel/"


def test_the_channel_list_is_in_chinese(root, make_channel):
    make_channel(name="ops", kind="dingtalk")
    html = root.get(CHANNELS_URL, **ZH).content.decode()
    for chinese in ("告警渠道", "名称", "类型", "启用", "事件", "钉钉机器人", "向所选渠道发送测试消息"):
        assert chinese in html, chinese
    assert "Send a test message" not in html


def test_the_channel_form_and_the_alert_list_are_in_chinese(root, make_channel, make_task):
    channel = make_channel()
    form = root.get(f"{CHANNELS_URL}{channel.pk}/change/", **ZH).content.decode()
    assert "只写：从不显示" in form and "清除密钥" in form and "运行失败" in form
    raise_alert(event="job_failed", task=make_task(), details={"reason": "boom"})
    alerts = root.get("/admin/alerts/alert/", **ZH).content.decode()
    assert "严重程度" in alerts and "发生时间" in alerts and "运行失败" in alerts


def test_the_test_send_message_follows_the_browser_in_the_admin_and_not_in_the_api(
    root, receiver, make_channel, admin_client_api
):
    hook = receiver()
    channel = make_channel(name="good", target=hook.url)
    response = root.post(CHANNELS_URL, {"action": "send_test", "_selected_action": [str(channel.pk)]}, **ZH)
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["good：测试消息已发送到 good"]
    answer = admin_client_api.post(f"/api/v1/alerts/channels/{channel.pk}/test", **ZH).json()
    assert answer["message"] == "test message sent to good"


def test_the_dashboard_alerts_card_comes_from_the_catalogue(root, make_task):
    raise_alert(event="job_failed", task=make_task(), details={"reason": "boom"})
    html = root.get("/dashboard/", **ZH).content.decode()
    assert "告警 <span" in html and "Alerts" in html  # stays bilingual
    assert "时间 When" in html and "事件 Event" in html and "运行失败" in html
