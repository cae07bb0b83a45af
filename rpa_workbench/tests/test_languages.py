"""The admin and the dashboard in Simplified Chinese for Chinese browsers, English otherwise;
the API stays in English whatever the browser."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils import translation

from alerts.models import AlertEvent
from jobs.models import JobReason, JobStatus

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def page(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_admin_index_in_chinese(root):
    html = page(root, "/admin/", **ZH)
    assert '<html lang="zh-hans"' in html
    assert "机器人账号" in html  # our model names
    assert "执行日志" in html
    assert "打开运行看板" in html  # our template
    assert "RPA 工作台" in html  # our site header
    assert "时区：Asia/Shanghai" in html  # the display zone, named
    assert "注销" in html or "退出" in html  # Django's own catalogue


def test_a_chinese_browser_asking_zh_cn_gets_simplified_chinese(root):
    html = page(root, "/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8")
    assert '<html lang="zh-hans"' in html and "机器人账号" in html


def test_other_browsers_get_english(root):
    html = page(root, "/admin/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="en"' in html and "Robot accounts" in html and "机器人账号" not in html


def test_task_and_account_lists_in_chinese(root, make_task):
    make_task()
    tasks = page(root, "/admin/tasks/task/", **ZH)
    assert "状态" in tasks and "时区：" in tasks
    for chinese in ("任务名称", "调度计划", "下次运行", "触发时间", "启动所选任务", "强制停止所选任务"):
        assert chinese in tasks, chinese
    accounts = page(root, "/admin/accounts/account/", **ZH)
    assert "在线状态" in accounts and "账号名称" in accounts and "未知" in accounts


def test_task_page_buttons_in_chinese(root, make_task):
    task = make_task()
    html = page(root, f"/admin/tasks/task/{task.pk}/change/", **ZH)
    assert ">启动</button>" in html and ">停止</button>" in html and ">强制停止</button>" in html
    assert "调度" in html and "最近的控制请求" in html


def test_log_page_in_chinese(root, make_log):
    log = make_log(duration=12.0)
    html = page(root, f"/admin/executionlogs/executionlog/{log.pk}/change/", **ZH)
    assert "截图和日志" in html and "耗时" in html


def test_dashboard_labels_come_from_the_catalogue(root):
    html = page(root, "/dashboard/", **ZH)
    for chinese in ("执行记录", "成功率", "机器人在线 / 离线", "最近执行", "连接中"):
        assert chinese in html
    assert "Executions" in html  # and stays bilingual


def test_the_language_switcher_remembers_the_choice(root):
    response = root.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    assert response.status_code == 302
    assert "机器人账号" in page(root, "/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'id="language-switcher"' in page(root, "/admin/")


def test_the_api_stays_english_for_a_chinese_browser(viewer_client):
    response = viewer_client.get("/api/v1/accounts", {"presence": "asleep"}, **ZH)
    assert response.status_code == 400
    assert "Select a valid choice" in response.json()["message"]
    assert "Accept-Language" not in response.get("Vary", "")


def test_the_task_admin_start_and_refusal_messages_in_chinese(root, fake_relay, make_task):
    task = make_task(task_name="Alpha", app_name="report")
    response = root.post(f"/admin/tasks/task/{task.pk}/control/start/", **ZH)
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Alpha（") and "应用 report）" in message
    assert "启动请求已发给机器人" in message and "等待机器人确认" in message
    running = make_task(task_name="Busy", status="running")
    response = root.post(f"/admin/tasks/task/{running.pk}/control/start/", **ZH)
    refused = [str(m) for m in get_messages(response.wsgi_request)][-1]  # after the unread start message
    assert "启动被拒绝：任务已在运行" in refused  # the refusal's reason translated too (by its code)


def test_job_statuses_and_alert_events_are_translated():
    with translation.override("zh-hans"):
        assert str(JobStatus.QUEUED.label) == "排队中" and str(JobReason.LOST_CONTACT.label) == "失去联系"
        assert str(AlertEvent.ROBOT_OFFLINE.label) == "机器人离线"
