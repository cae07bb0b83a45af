"""Every change of the task list moves the cached reads' key (issue 28): each writes its event in
its own transaction (rpa_workbench/list_cache.py). What changes nothing keeps it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from rpa_workbench.testing.reads import keeps_the_key, moves_the_key
from tasks.models import Task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keyed_by_events_only")]

TASKS = "/api/v1/tasks"


@pytest.fixture
def robot(make_account):
    return make_account(shadow_bot_account="bot_01", host_ip="192.168.1.100", port=8000)


def test_a_task_added_edited_and_deleted_through_the_api(operator_client, viewer_client, robot):
    body = {"task_name": "Daily", "app_name": "daily_report", "account_id": str(robot.pk)}
    with moves_the_key(viewer_client):
        task_id = operator_client.post(TASKS, body, format="json").json()["id"]
    with moves_the_key(viewer_client):
        assert operator_client.put(f"{TASKS}/{task_id}", {"remark": "x"}, format="json").status_code == 200
    with moves_the_key(viewer_client):
        parameters = [{"name": "region", "type": "str"}]
        assert operator_client.put(f"{TASKS}/{task_id}", {"parameters": parameters}, format="json").status_code == 200
    with keeps_the_key(viewer_client):
        assert operator_client.put(f"{TASKS}/{task_id}", {"max_retries": 99}, format="json").status_code == 400
        assert operator_client.put(f"{TASKS}/{task_id}", {"remark": "x"}, format="json").status_code == 200
    with moves_the_key(viewer_client):
        assert operator_client.delete(f"{TASKS}/{task_id}").status_code == 200


def test_start_confirm_and_stop_of_a_task(operator_client, viewer_client, robot_client, robot, make_task, fake_relay):
    task = make_task(robot, app_name="daily_report")
    with moves_the_key(viewer_client):
        assert operator_client.post(f"{TASKS}/{task.pk}/start").status_code == 200
    confirm = {"shadow_bot_account": "bot_01", "app_name": "daily_report"}
    with moves_the_key(viewer_client):
        assert robot_client.post("/api/v1/webhook/confirm", {**confirm, "action": "START"}, format="json").status_code == 200
    with moves_the_key(viewer_client):
        assert operator_client.post(f"{TASKS}/{task.pk}/stop").status_code == 200
    with moves_the_key(viewer_client):
        assert robot_client.post("/api/v1/webhook/confirm", {**confirm, "action": "STOP"}, format="json").status_code == 200


def test_the_scheduler_planning_and_clearing_a_next_run(viewer_client, robot, make_task):
    from jobs import scheduler

    planned = make_task(robot, schedule="0 9 * * *", schedule_timezone="Asia/Shanghai")
    cleared = make_task(robot, schedule="", next_run_at=timezone.now() + timedelta(days=1))
    with moves_the_key(viewer_client):
        scheduler.fire_recurring(timezone.now(), scheduler.Summary())
    assert Task.objects.get(pk=planned.pk).next_run_at is not None
    assert Task.objects.get(pk=cleared.pk).next_run_at is None
    with keeps_the_key(viewer_client):
        scheduler.fire_recurring(timezone.now(), scheduler.Summary())


def test_a_config_file_uploaded_for_a_task(viewer_client, robot, make_task):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from resources import services

    task = make_task(robot)
    with moves_the_key(viewer_client):
        services.store_config_for_task(task=task, upload=SimpleUploadedFile("config.json", b"{}"))
    assert Task.objects.get(pk=task.pk).config_file is True
