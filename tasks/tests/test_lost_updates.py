"""Issue 14 bug 1: an edit writes only what its client changed, never a column control, robots or
the scheduler own.

The race is reproduced exactly: a robot's confirm or a scheduler claim (a queryset `.update()`,
as those code paths write) lands after the edit loaded the task and before it saved.
"""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from tasks import editing
from tasks.models import Task, TaskStatus
from tasks.tests.test_admin import TASKS_URL

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks"


@pytest.fixture
def lands_before_save(monkeypatch):
    """Run `write()` after the view loaded and validated the task, just before it is saved."""

    def arrange(write):
        original = editing.update_task

        def racing(*, task, changes, user=None):
            write()
            return original(task=task, changes=changes, user=user)

        monkeypatch.setattr(editing, "update_task", racing)

    return arrange


def confirm_start(task: Task):
    """What a robot's START confirm writes."""
    now = timezone.now()
    return lambda: Task.objects.filter(pk=task.pk).update(
        status=TaskStatus.RUNNING, last_run_time=now, start_requested_at=None, last_seen_at=now
    )


def test_an_edit_does_not_undo_a_confirm_that_landed_meanwhile(operator_client, make_task, lands_before_save):
    task = make_task(start_requested_at=timezone.now())
    lands_before_save(confirm_start(task))

    response = operator_client.patch(f"{URL}/{task.pk}", {"remark": "checked"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "running" and response.json()["remark"] == "checked"
    task.refresh_from_db()
    assert task.status == TaskStatus.RUNNING and task.remark == "checked"
    assert task.last_run_time is not None and task.last_seen_at is not None
    assert task.start_requested_at is None


def test_the_spa_sending_its_whole_form_does_not_re_arm_a_fired_one_shot(operator_client, make_task, lands_before_save):
    trigger = timezone.now() + timedelta(minutes=10)
    task = make_task(trigger_time=trigger)
    shown = operator_client.get(f"{URL}/{task.pk}").json()
    fired_at = timezone.now()
    lands_before_save(
        lambda: Task.objects.filter(pk=task.pk).update(trigger_time=None, start_requested_at=fired_at)
    )

    form = {key: shown[key] for key in ("task_name", "app_name", "trigger_time", "config_json", "remark")}
    response = operator_client.put(f"{URL}/{task.pk}", {**form, "remark": "renamed"}, format="json")

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.trigger_time is None and task.start_requested_at == fired_at
    assert task.remark == "renamed"


def test_an_edit_does_not_restore_a_next_run_the_scheduler_moved(operator_client, make_task, lands_before_save):
    slot = timezone.now() + timedelta(minutes=1)
    task = make_task(schedule="*/5 * * * *", schedule_timezone="UTC", next_run_at=slot)
    moved = slot + timedelta(minutes=5)
    lands_before_save(lambda: Task.objects.filter(pk=task.pk).update(next_run_at=moved))

    operator_client.patch(f"{URL}/{task.pk}", {"task_name": "Renamed"}, format="json")

    task.refresh_from_db()
    assert task.next_run_at == moved and task.task_name == "Renamed"


def test_changing_the_schedule_still_plans_the_next_run(operator_client, make_task):
    task = make_task()
    operator_client.patch(f"{URL}/{task.pk}", {"schedule": "0 9 * * *", "schedule_timezone": "UTC"}, format="json")
    task.refresh_from_db()
    assert task.next_run_at is not None and task.next_run_at.hour == 9


def test_a_task_confirmed_running_meanwhile_cannot_be_moved(operator_client, make_task, lands_before_save):
    task = make_task(app_name="first_app")
    lands_before_save(confirm_start(task))

    response = operator_client.patch(f"{URL}/{task.pk}", {"app_name": "second_app"}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "TASK_ALREADY_RUNNING"
    task.refresh_from_db()
    assert task.app_name == "first_app" and task.status == TaskStatus.RUNNING


def test_the_domain_function_with_a_stale_copy_writes_only_the_change(make_task):
    task = make_task(trigger_time=timezone.now() + timedelta(hours=1))
    stale = Task.objects.get(pk=task.pk)
    confirm_start(task)()
    Task.objects.filter(pk=task.pk).update(trigger_time=None)

    saved = editing.update_task(task=stale, changes={"remark": "x", "trigger_time": stale.trigger_time})

    fresh = Task.objects.get(pk=task.pk)
    assert (fresh.status, fresh.trigger_time, fresh.remark) == (TaskStatus.RUNNING, None, "x")
    assert saved.status == TaskStatus.RUNNING


def test_an_edit_changing_the_case_of_a_name_is_written(make_task):
    task = make_task(task_name="daily")
    editing.update_task(task=task, changes={"task_name": "Daily"})
    assert Task.objects.get(pk=task.pk).task_name == "Daily"


# --- the admin change form -------------------------------------------------------------------


class FormFields(HTMLParser):
    """The name/value pairs a browser posts for the page's change form."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "checkbox"):
            self.data[name] = attrs.get("value") or ""
        elif tag == "input" and name and "checked" in attrs:
            self.data[name] = "on"
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value") or ""

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_as_shown(client, url: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(client.get(url).content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return parser.data


def test_the_admin_form_does_not_re_arm_a_one_shot_that_fired_while_it_was_open(client, admin_user, make_task):
    client.force_login(admin_user)
    task = make_task(trigger_time=timezone.now() + timedelta(seconds=30))
    url = f"{TASKS_URL}{task.pk}/change/"
    form = form_as_shown(client, url)
    Task.objects.filter(pk=task.pk).update(trigger_time=None, start_requested_at=timezone.now())  # fired

    response = client.post(url, {**form, "remark": "edited"})

    assert response.status_code == 302, response.content.decode()[:2000]
    task.refresh_from_db()
    assert task.remark == "edited" and task.trigger_time is None and task.start_requested_at is not None


def test_the_admin_form_does_not_undo_a_confirm_that_landed_before_it_saved(
    client, admin_user, make_task, lands_before_save
):
    client.force_login(admin_user)
    task = make_task()
    url = f"{TASKS_URL}{task.pk}/change/"
    form = form_as_shown(client, url)
    lands_before_save(confirm_start(task))

    assert client.post(url, {**form, "task_name": "Edited"}).status_code == 302
    task.refresh_from_db()
    assert task.task_name == "Edited" and task.status == TaskStatus.RUNNING and task.last_run_time is not None
