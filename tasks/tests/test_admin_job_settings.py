"""The task and account forms of the admin: job settings (priority, retries, timeouts,
max_concurrent_jobs) editable with help texts, the config file uploaded from the task form, no
generated id on an add page, schedule errors and history in Chinese, and the start message
saying where the new job is."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account
from jobs.models import Job
from tasks.models import Task
from tasks.tests.test_admin import with_empty_inline

pytestmark = pytest.mark.django_db

TASKS = "/admin/tasks/task/"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def form(account, **overrides) -> dict:
    data = {
        "task_name": "nc_second", "account": str(account.pk), "app_name": "order_sync", "config_file_path": "",
        "config_json": "", "trigger_time_0": "", "trigger_time_1": "", "schedule": "", "schedule_timezone": "",
        "remark": "", "priority": "normal", "max_retries": "0", "retry_delay_seconds": "60",
        "run_timeout_seconds": "", "wait_timeout_seconds": "",
    }
    return {**data, **overrides}


def test_the_add_page_shows_the_job_settings_with_help_texts_and_no_id(root):
    html = root.get(f"{TASKS}add/").content.decode()
    for name in ("priority", "max_retries", "retry_delay_seconds", "run_timeout_seconds", "wait_timeout_seconds",
                 "config_upload"):
        assert f'name="{name}"' in html, name
    assert "30 8 * * 1-5" in html  # the cron help text has an example
    assert "Empty = 3600 s" in html  # a timeout's default is said
    assert "Asia/Shanghai" in html
    assert 'class="form-row field-id' not in html  # no id before the task exists


def test_job_settings_and_an_uploaded_config_file_are_saved(root, make_account):
    account = make_account()
    upload = SimpleUploadedFile("shops.json", b'{"shops": ["A"]}')

    response = root.post(f"{TASKS}add/", form(
        account, priority="high", max_retries="3", retry_delay_seconds="30", run_timeout_seconds="600",
        wait_timeout_seconds="120", config_upload=upload,
    ))

    assert response.status_code == 302, response.content.decode()[:2000]
    task = Task.objects.get()
    assert (task.priority, task.max_retries, task.retry_delay_seconds) == ("high", 3, 30)
    assert (task.run_timeout_seconds, task.wait_timeout_seconds) == (600, 120)
    assert task.config_file is True and task.config_file_path.startswith("configs/")
    with default_storage.open(task.config_file_path) as stored:
        assert stored.read() == b'{"shops": ["A"]}'


def test_a_config_file_of_a_refused_type_is_a_form_error_in_chinese(root, make_account):
    response = root.post(f"{TASKS}add/", form(make_account(), config_upload=SimpleUploadedFile("x.exe", b"MZ")), **ZH)
    assert response.status_code == 200
    assert "不接受此类型的文件" in response.content.decode()
    assert not Task.objects.exists()


def test_a_bad_cron_expression_is_explained_in_chinese_with_an_example(root, make_account):
    response = root.post(f"{TASKS}add/", form(make_account(), schedule="*/5 * * *"), **ZH)
    html = response.content.decode()
    assert "cron 表达式有五段" in html and "30 8 * * 1-5" in html
    assert "must be a cron expression" not in html


def test_the_history_names_changed_fields_in_chinese(root, make_task):
    task = make_task()
    data = form(task.account, task_name=task.task_name, app_name=task.app_name, schedule="*/5 * * * *",
                schedule_timezone="Europe/Berlin")
    assert root.post(f"{TASKS}{task.pk}/change/", with_empty_inline(data)).status_code == 302

    html = root.get(f"{TASKS}{task.pk}/history/", **ZH).content.decode()

    assert "调度计划" in html and "调度时区" in html
    assert "Schedule time zone" not in html


def test_the_account_form_edits_max_concurrent_jobs_and_keeps_relay_robots_at_one(root):
    base = {"shadow_bot_account": "yd_01", "host_ip": "10.0.0.8", "port": "8100"}
    refused = root.post("/admin/accounts/account/add/", {**base, "max_concurrent_jobs": "3"})
    assert refused.status_code == 200 and "Must be 1 for the relay backend" in refused.content.decode()

    saved = root.post("/admin/accounts/account/add/", {
        **base, "max_concurrent_jobs": "3", "dispatch_backend": "yingdao", "yingdao_account_name": "yd_01@corp",
    })
    assert saved.status_code == 302
    assert Account.objects.get().max_concurrent_jobs == 3
    assert "Jobs this robot runs at once" in root.get("/admin/accounts/account/add/").content.decode()


def test_start_says_the_job_is_queued_and_where_without_capitalising_the_task(root, make_task, make_account, settings):
    """A robot busy with another job: the new one waits, at position 1 (as the API says)."""
    from jobs.tests.conftest import build_job

    settings.RPA_RELAY_URL = "http://127.0.0.1:9/relay"  # configured; nothing is sent while the robot is busy
    account = make_account()
    build_job(make_task(account=account), status="running")
    task = make_task(account=account, task_name="nc_second")

    response = root.post(f"{TASKS}{task.pk}/control/start/", follow=True)

    job = Job.objects.get(task=task)
    [message] = [str(m) for m in response.context["messages"]] or [""]
    assert message.startswith("nc_second (") and "queued at position 1" in message and str(job.pk)[:8] in message
    assert "<li class=\"success\">nc_second (" in response.content.decode()  # not "Nc_second"
