"""A task's admin page: Start / Stop / Force stop buttons that are the list actions, recent runs,
and the list's schedule columns and badges."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from tasks.models import ControlOutcome, ControlRequest, ControlSource, TaskStatus

pytestmark = pytest.mark.django_db

TASKS_URL = "/admin/tasks/task/"


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def control_url(task, button: str) -> str:
    return f"{TASKS_URL}{task.pk}/control/{button}/"


def test_an_operator_sees_the_three_buttons_on_a_task_page(operator, make_task):
    task = make_task()
    html = operator.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    for button in ("start", "stop", "force-stop"):
        assert f'action="{control_url(task, button)}"' in html
    assert ">Start</button>" in html and ">Stop</button>" in html and ">Force stop</button>" in html


def test_start_button_sends_start_audited_as_admin_with_the_list_actions_message(operator, fake_relay, make_task):
    task = make_task(task_name="Alpha")
    response = operator.post(control_url(task, "start"))
    assert response.status_code == 302 and response["Location"] == f"{TASKS_URL}{task.pk}/change/"
    assert [q["target"] for q in fake_relay.queries] == ["START"]
    [message] = texts(response)
    assert message.startswith("Alpha (") and "start request sent" in message
    assert "waiting for the robot to confirm" in message
    request = ControlRequest.objects.get()
    assert (request.source, request.outcome, request.requested_by.username) == (
        ControlSource.ADMIN, ControlOutcome.SENT, "operator1",
    )


def test_stop_and_force_stop_buttons_run_their_actions(operator, fake_relay, make_task):
    task = make_task(task_name="Busy", status=TaskStatus.RUNNING)
    assert "stop request sent" in texts(operator.post(control_url(task, "stop")))[0]
    assert fake_relay.queries[-1]["target"] == "ALL"
    assert "marked pending" in texts(operator.post(control_url(task, "force-stop")))[-1]
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING


def test_a_refusal_is_reported_like_in_the_list(operator, fake_relay, make_task):
    task = make_task(task_name="Busy", status=TaskStatus.RUNNING)
    [message] = texts(operator.post(control_url(task, "start")))
    assert "start refused" in message and fake_relay.requests == []


def test_a_viewer_sees_no_buttons_and_a_forged_press_is_refused(viewer, fake_relay, make_task):
    task = make_task()
    html = viewer.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    assert "/control/" not in html and "control-buttons" not in html
    assert viewer.post(control_url(task, "start")).status_code == 403
    assert fake_relay.requests == [] and ControlRequest.objects.count() == 0


def test_buttons_accept_only_post_and_known_names(operator, fake_relay, make_task):
    task = make_task()
    assert operator.get(control_url(task, "start")).status_code == 405
    assert operator.post(control_url(task, "explode")).status_code == 404
    assert fake_relay.requests == []


def test_task_list_shows_schedule_next_run_trigger_time_and_a_status_badge(operator, make_task):
    make_task(task_name="Cron", schedule="*/5 * * * *", status=TaskStatus.RUNNING)
    html = operator.get(TASKS_URL).content.decode()
    for column in ("column-schedule", "column-next_run_at", "column-trigger_time", "column-last_run_time"):
        assert column in html
    assert "*/5 * * * *" in html
    assert 'class="badge badge-running"' in html


def test_a_task_page_lists_its_recent_runs_linking_to_their_log_pages(operator, make_task, make_log):
    task = make_task()
    log = make_log(task=task, account=task.account, app_name=task.app_name, duration=754)
    html = operator.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    assert "Recent runs (latest 10)" in html
    assert f"/admin/executionlogs/executionlog/{log.pk}/change/" in html
    assert "12m 34s" in html
