"""The Yingdao robots admin page in Simplified Chinese for a Chinese browser."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from yingdao.models import RobotClient

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
ROBOTS_URL = "/admin/yingdao/robotclient/"


def test_the_yingdao_robot_list_and_its_action_are_in_chinese(client, admin_user):
    robot = RobotClient.objects.create(
        robot_client_uuid="c9", name="new@corp", status="idle", client_ip="10.1.2.3", synced_at=timezone.now()
    )
    client.force_login(admin_user)
    html = client.get(ROBOTS_URL, **ZH).content.decode()
    for chinese in ("影刀机器人", "影刀状态", "客户端 IP", "计算机名", "工作台账号", "尚未成为工作台账号",
                    "添加为机器人账号（影刀后端）"):  # fmt: skip
        assert chinese in html, chinese
    response = client.post(ROBOTS_URL, {"action": "add_as_robot_account", "_selected_action": [robot.pk]}, **ZH)
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("new@corp：已添加为机器人账号 ")
