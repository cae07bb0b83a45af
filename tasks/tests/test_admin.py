"""The tasks admin: control actions through the real (local) relay, read-only audit trail, and
task editing through the same domain functions as the API."""

from __future__ import annotations

import re
import socket

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.models import ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

pytestmark = pytest.mark.django_db

TASKS_URL = "/admin/tasks/task/"
REQUESTS_URL = "/admin/tasks/controlrequest/"
INLINE_PREFIX = "control_requests"
RUNS_PREFIX = "execution_logs"  # the recent-runs inline (executionlogs.admin)
JOBS_PREFIX = "jobs"  # the recent-jobs inline (jobs.admin)
PARAMETERS_PREFIX = "parameters"  # the parameters inline (tasks.admin_inputs)
INLINE_LIMIT = 20


def run_action(client, action: str, *tasks: Task):
    return client.post(
        TASKS_URL,
        {"action": action, "index": "0", "_selected_action": [str(t.pk) for t in tasks]},
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def task_form(account, **overrides) -> dict:
    data = {
        "task_name": "Daily report",
        "account": str(account.pk),
        "app_name": "daily_report",
        "config_file_path": "",
        "config_json": '{"shop": "A"}',
        "trigger_time_0": "",
        "trigger_time_1": "",
        "schedule": "",
        "schedule_timezone": "",
        "remark": "",
    }
    data.update(overrides)
    return data


def with_empty_inline(data: dict) -> dict:
    """A change form also posts its (here empty) inlines: parameters, recent jobs, recent runs, control requests."""
    empty = {}
    for prefix in (PARAMETERS_PREFIX, JOBS_PREFIX, RUNS_PREFIX, INLINE_PREFIX):
        for name in ("TOTAL", "INITIAL", "MIN_NUM", "MAX_NUM"):
            empty[f"{prefix}-{name}_FORMS"] = "0"
    return {**data, **empty}


# -- control actions -------------------------------------------------------------------------
def test_operator_starts_two_tasks_and_each_start_goes_to_the_relay(operator, fake_relay, make_task):
    first, second = make_task(task_name="Alpha"), make_task(task_name="Beta")

    response = run_action(operator, "start_selected", first, second)

    assert response.status_code == 302
    assert sorted(q["tak"] for q in fake_relay.queries) == sorted([first.app_name, second.app_name])
    assert {q["target"] for q in fake_relay.queries} == {"START"}
    messages = texts(response)
    assert len(messages) == 2
    assert all("start request sent" in m for m in messages)
    assert any(m.startswith("Alpha (") for m in messages) and any(m.startswith("Beta (") for m in messages)
    for task in (first, second):
        task.refresh_from_db()
        assert task.status == TaskStatus.PENDING  # only the robot's confirmation makes it running
    audit = ControlRequest.objects.filter(source=ControlSource.ADMIN, outcome=ControlOutcome.SENT)
    assert audit.count() == 2
    assert set(audit.values_list("requested_by__username", flat=True)) == {"operator1"}


def test_start_on_a_running_task_is_refused_with_its_reason_and_sends_nothing(
    operator, fake_relay, make_task
):
    task = make_task(task_name="Busy", status=TaskStatus.RUNNING)

    response = run_action(operator, "start_selected", task)

    assert fake_relay.requests == []
    [message] = texts(response)
    assert "start refused" in message and "already running" in message
    assert ControlRequest.objects.get().outcome == ControlOutcome.SKIPPED


def test_one_refusal_does_not_stop_the_other_selected_tasks(operator, fake_relay, make_task):
    running = make_task(task_name="Busy", status=TaskStatus.RUNNING)
    idle = make_task(task_name="Idle")

    response = run_action(operator, "start_selected", running, idle)

    assert [q["tak"] for q in fake_relay.queries] == [idle.app_name]
    messages = texts(response)
    assert any(m.startswith("Busy (") and "refused" in m for m in messages)
    assert any(m.startswith("Idle (") and "request sent" in m for m in messages)


def test_stop_with_the_relay_answering_500_leaves_the_job_stopping_and_records_the_failure(
    operator, fake_relay, make_account, make_task
):
    """The bulk stop moves the job to stopping in the request; the dispatcher sends the stop
    (inline in tests) and records the relay's answer on the ControlRequest."""
    account = make_account(status="running")
    task = make_task(account=account, status=TaskStatus.RUNNING)
    fake_relay.status = 500

    response = run_action(operator, "stop_selected", task)

    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    [message] = texts(response)
    assert "stop request sent to the dispatcher" in message
    assert task.jobs.get().status == "stopping"
    task.refresh_from_db()
    account.refresh_from_db()
    assert task.status == TaskStatus.RUNNING
    assert account.status == "running"
    failed = ControlRequest.objects.get()
    assert (failed.source, failed.outcome, failed.response_status) == (
        ControlSource.ADMIN,
        ControlOutcome.FAILED,
        500,
    )


def test_force_stop_with_the_relay_down_still_marks_task_and_account_pending(
    operator, settings, make_account, make_task
):
    settings.RPA_RELAY_URL = f"http://127.0.0.1:{closed_port()}/yingdao"
    account = make_account(status="running")
    task = make_task(account=account, status=TaskStatus.RUNNING)

    response = run_action(operator, "force_stop_selected", task)

    task.refresh_from_db()
    account.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert account.status == "pending"
    [message] = texts(response)
    assert "marked pending" in message and "sent to the dispatcher" in message
    audit = ControlRequest.objects.get()  # the dispatcher tried, and recorded the failure
    assert (audit.action, audit.source, audit.outcome) == (
        "force_stop",
        ControlSource.ADMIN,
        ControlOutcome.FAILED,
    )


def test_force_stop_reaching_the_relay_says_the_stop_was_sent(operator, fake_relay, make_task):
    task = make_task(status=TaskStatus.RUNNING)

    response = run_action(operator, "force_stop_selected", task)

    assert [q["target"] for q in fake_relay.queries] == ["ALL"]
    [message] = texts(response)
    assert "stop request sent" in message


def test_start_without_a_relay_configured_says_so(operator, make_task):
    task = make_task()

    response = run_action(operator, "start_selected", task)

    [message] = texts(response)
    assert "relay is not configured" in message
    task.refresh_from_db()
    assert task.start_requested_at is None


def test_viewer_is_offered_no_actions_and_a_forged_action_is_refused(viewer, fake_relay, make_task):
    task = make_task()
    page = viewer.get(TASKS_URL).content.decode()
    assert "start_selected" not in page and "force_stop_selected" not in page

    response = run_action(viewer, "start_selected", task)

    assert response.status_code == 403
    assert fake_relay.requests == []
    assert not ControlRequest.objects.exists()
    task.refresh_from_db()
    assert task.start_requested_at is None


def test_operator_is_offered_the_three_control_actions(operator, make_task):
    make_task()
    page = operator.get(TASKS_URL).content.decode()
    for action in ("start_selected", "stop_selected", "force_stop_selected"):
        assert f'value="{action}"' in page


# -- pages -----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["root", "viewer"])
def test_changelist_shows_account_as_name_over_host_and_port(request, who, make_account, make_task):
    client = request.getfixturevalue(who)
    account = make_account(shadow_bot_account="bot_listed", host_ip="10.9.8.7", port=8123)
    make_task(account=account, task_name="Listed task", app_name="listed_app")

    page = client.get(TASKS_URL).content.decode()

    assert "Listed task" in page and "listed_app" in page
    assert 'bot_listed<span class="cell-sub">10.9.8.7:8123</span>' in page  # two tokens, neither broken


def test_changelist_searches_by_host_and_filters_by_status(root, make_account, make_task):
    make_task(account=make_account(host_ip="10.1.1.1"), task_name="On one", status=TaskStatus.RUNNING)
    make_task(account=make_account(host_ip="10.2.2.2"), task_name="On two")

    by_host = root.get(TASKS_URL, {"q": "10.1.1.1"}).content.decode()
    by_status = root.get(TASKS_URL, {"status__exact": "pending"}).content.decode()

    assert "On one" in by_host and "On two" not in by_host
    assert "On two" in by_status and "On one" not in by_status


@pytest.mark.parametrize("who", ["root", "viewer"])
def test_change_page_shows_recent_control_requests_newest_first(request, who, make_task):
    client = request.getfixturevalue(who)
    task = make_task()
    for n in range(25):
        ControlRequest.objects.create(task=task, action="start", source="api", error=f"marker-{n:02d}-end")

    page = client.get(f"{TASKS_URL}{task.pk}/change/").content.decode()

    assert page.count("marker-") == INLINE_LIMIT
    assert "marker-24-end" in page and "marker-04-end" not in page
    assert page.index("marker-24-end") < page.index("marker-05-end")


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_pages_query_the_database_a_fixed_number_of_times(root, admin_user, make_task):
    task = make_task()
    ControlRequest.objects.create(task=task, action="start", source="admin", requested_by=admin_user)
    change_url = f"{TASKS_URL}{task.pk}/change/"
    [queries_for(root, url) for url in (TASKS_URL, REQUESTS_URL, change_url)]  # warm caches
    few = [queries_for(root, url) for url in (TASKS_URL, REQUESTS_URL, change_url)]

    for _ in range(10):
        other = make_task()
        ControlRequest.objects.create(task=other, action="start", source="admin", requested_by=admin_user)
        ControlRequest.objects.create(task=task, action="stop", source="admin", requested_by=admin_user)

    assert [queries_for(root, url) for url in (TASKS_URL, REQUESTS_URL, change_url)] == few


def test_status_is_shown_but_not_editable(root, make_task):
    task = make_task(status=TaskStatus.RUNNING)
    page = root.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    assert 'name="status"' not in page
    assert 'name="config_json"' in page


# -- editing through the domain functions ------------------------------------------------------
def test_admin_creates_a_task_through_the_domain_function(
    root, make_account, django_capture_on_commit_callbacks
):
    account = make_account()

    with django_capture_on_commit_callbacks() as callbacks:
        response = root.post(f"{TASKS_URL}add/", task_form(account, schedule="*/5  * * * *"))

    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.account, task.app_name, task.status) == (account, "daily_report", TaskStatus.PENDING)
    assert task.schedule == "*/5 * * * *"  # normalised as the API does
    assert task.next_run_at is not None  # planned by tasks.editing
    assert callbacks  # the task event is published after commit


def test_invalid_config_json_is_a_form_error(root, make_account):
    response = root.post(f"{TASKS_URL}add/", task_form(make_account(), config_json='{"shop": '))

    assert response.status_code == 200
    assert "Must be valid JSON" in response.content.decode()
    assert not Task.objects.exists()


def test_invalid_schedule_is_a_form_error(root, make_account):
    response = root.post(f"{TASKS_URL}add/", task_form(make_account(), schedule="every day"))

    assert response.status_code == 200
    assert "five fields" in response.content.decode()
    assert not Task.objects.exists()


def test_a_second_task_for_the_same_app_is_a_form_error_whatever_the_case(root, make_account, make_task):
    account = make_account()
    make_task(account=account, app_name="Daily_Report")

    response = root.post(f"{TASKS_URL}add/", task_form(account, app_name="daily_report"))

    assert response.status_code == 200
    assert "already has a task for this app" in response.content.decode()
    assert Task.objects.count() == 1


def test_a_duplicate_that_slips_past_the_form_is_refused_by_the_database_without_a_500(
    root, make_account, make_task, monkeypatch
):
    """A concurrent create between validation and save: the unique index decides."""
    account = make_account()
    make_task(account=account, app_name="Daily_Report")
    monkeypatch.setattr("tasks.editing.ensure_unique_app", lambda *args, **kwargs: None)
    monkeypatch.setattr(Task, "validate_constraints", lambda self, exclude=None: None)

    response = root.post(f"{TASKS_URL}add/", task_form(account, app_name="daily_report"))

    assert response.status_code == 302
    assert any("Not saved" in m and "already has a task for app" in m for m in texts(response))
    assert Task.objects.count() == 1


def test_admin_edits_a_task_and_the_change_goes_through_the_domain_function(root, make_task):
    task = make_task(app_name="edited_app")
    data = with_empty_inline(
        task_form(task.account, app_name="edited_app", remark="checked", schedule="0 9 * * *")
    )

    response = root.post(f"{TASKS_URL}{task.pk}/change/", data)

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.remark == "checked"
    assert task.next_run_at is not None


def rendered_inline(page: str) -> dict:
    """The hidden inputs a browser posts back for the inlines (control requests, runs, jobs)."""
    pattern = rf'<input type="hidden" name="((?:{INLINE_PREFIX}|{RUNS_PREFIX}|{JOBS_PREFIX}|{PARAMETERS_PREFIX})-[^"]+)" value="([^"]*)"'
    return dict(re.findall(pattern, page))


def test_change_form_saves_even_when_new_control_requests_arrived_meanwhile(root, make_task):
    task = make_task(app_name="busy_app")
    for _ in range(INLINE_LIMIT):
        ControlRequest.objects.create(task=task, action="start", source="api")
    page = root.get(f"{TASKS_URL}{task.pk}/change/").content.decode()
    inline = rendered_inline(page)
    assert inline[f"{INLINE_PREFIX}-INITIAL_FORMS"] == str(INLINE_LIMIT)
    ControlRequest.objects.create(task=task, action="start", source="scheduler")  # pushes one out

    response = root.post(
        f"{TASKS_URL}{task.pk}/change/",
        {**task_form(task.account, app_name="busy_app", remark="kept"), **inline},
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.remark == "kept"
    assert ControlRequest.objects.filter(task=task).count() == INLINE_LIMIT + 1


def test_a_running_task_cannot_be_moved_to_another_app(root, make_task):
    task = make_task(app_name="running_app", status=TaskStatus.RUNNING)
    data = with_empty_inline(task_form(task.account, app_name="other_app"))

    response = root.post(f"{TASKS_URL}{task.pk}/change/", data)

    assert response.status_code == 200
    assert "stop it before changing" in response.content.decode()
    task.refresh_from_db()
    assert task.app_name == "running_app"


def test_deleting_a_task_keeps_its_control_requests(root, make_task):
    task = make_task()
    ControlRequest.objects.create(task=task, action="start", source="api", app_name=task.app_name)

    response = root.post(f"{TASKS_URL}{task.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Task.objects.exists()
    assert ControlRequest.objects.get().app_name == task.app_name


# -- the audit trail is read-only -------------------------------------------------------------
def test_control_request_list_renders_with_filters(root, make_task):
    ControlRequest.objects.create(task=make_task(), action="stop", source="admin", app_name="listed_app")

    page = root.get(REQUESTS_URL, {"source__exact": "admin"}).content.decode()

    assert "listed_app" in page
    assert 'href="/admin/tasks/controlrequest/add/"' not in page


def test_nobody_can_add_change_or_delete_control_requests(root, make_task):
    audit = ControlRequest.objects.create(task=make_task(), action="start", source="api")
    detail = f"{REQUESTS_URL}{audit.pk}/change/"

    assert root.get(f"{REQUESTS_URL}add/").status_code == 403
    assert root.get(f"{REQUESTS_URL}{audit.pk}/delete/").status_code == 403
    assert root.post(detail, {"action": "stop", "source": "admin"}).status_code == 403
    view = root.get(detail)
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    audit.refresh_from_db()
    assert (audit.action, audit.source) == ("start", "api")


def test_operator_bulk_delete_goes_through_the_domain_function(
    operator, make_task, django_capture_on_commit_callbacks
):
    first, second = make_task(), make_task()
    ControlRequest.objects.create(task=first, action="start", source="api")

    with django_capture_on_commit_callbacks() as callbacks:
        response = operator.post(
            TASKS_URL,
            {
                "action": "delete_selected",
                "index": "0",
                "post": "yes",
                "_selected_action": [str(first.pk), str(second.pk)],
            },
        )

    assert response.status_code == 302
    assert not Task.objects.exists()
    assert ControlRequest.objects.count() == 1
    assert len(callbacks) >= 2  # one deletion event per task


def test_viewer_cannot_change_a_task(viewer, make_task):
    task = make_task(remark="before")
    data = with_empty_inline(task_form(task.account, app_name=task.app_name, remark="after"))

    response = viewer.post(f"{TASKS_URL}{task.pk}/change/", data)

    assert response.status_code == 403
    task.refresh_from_db()
    assert task.remark == "before"
