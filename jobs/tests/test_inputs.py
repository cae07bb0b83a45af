"""Starting with inputs (API.md §11): checked against the task's parameters, coerced from the
strings the SPA sends, defaults filled in, kept on the job (secrets masked when shown), reused by
retries, defaults for scheduled starts, at most 8,000 characters."""

from __future__ import annotations

import pytest
from django.db import transaction

from jobs import scheduler, transitions
from jobs.models import Job, JobReason, JobStatus
from tasks.models import TaskParameter

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_task(make_task):
    task = make_task(max_retries=1, retry_delay_seconds=0)
    for position, (name, kind, required, default, secret) in enumerate([
        ("order_date", "str", True, None, False),
        ("limit", "int", False, 50, False),
        ("ratio", "float", False, None, False),
        ("dry_run", "bool", False, False, False),
        ("password", "str", False, "s3cret-default", True),
    ]):
        TaskParameter.objects.create(task=task, position=position, name=name, type=kind, required=required,
                                     default=default, secret=secret)  # fmt: skip
    return task


def start(client, task, inputs, via="task"):
    if via == "task":
        return client.post(f"/api/v1/tasks/{task.pk}/start", {"inputs": inputs}, format="json")
    return client.post("/api/v1/jobs", {"task_id": str(task.pk), "inputs": inputs}, format="json")


@pytest.mark.parametrize("via", ["task", "jobs"])
def test_inputs_are_coerced_from_strings_and_defaults_fill_the_rest(operator_client, export_task, fake_relay, via):
    answer = start(operator_client, export_task, {"order_date": "2026-01-21", "limit": "7", "ratio": "0.5",
                                                  "dry_run": "true"}, via)  # fmt: skip
    assert answer.status_code in (200, 201), answer.json()
    job = Job.objects.get(task=export_task)
    assert job.inputs == [
        {"name": "order_date", "type": "str", "value": "2026-01-21", "secret": False},
        {"name": "limit", "type": "int", "value": 7, "secret": False},
        {"name": "ratio", "type": "float", "value": 0.5, "secret": False},
        {"name": "dry_run", "type": "bool", "value": True, "secret": False},
        {"name": "password", "type": "str", "value": "s3cret-default", "secret": True},
    ]
    shown = operator_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert shown["inputs"] == {"order_date": "2026-01-21", "limit": 7, "ratio": 0.5, "dry_run": True,
                               "password": "******"}  # fmt: skip
    assert shown["outputs"] is None


def test_omitted_values_take_their_defaults(operator_client, export_task, fake_relay):
    assert start(operator_client, export_task, {"order_date": "d"}).status_code == 200
    values = {i["name"]: i["value"] for i in Job.objects.get(task=export_task).inputs}
    assert values == {"order_date": "d", "limit": 50, "dry_run": False, "password": "s3cret-default"}  # ratio: none


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"order_date": "d", "colour": "red"}, "inputs.colour: unknown parameter"),
        ({"order_date": "d", "limit": "seven"}, "inputs.limit: must be an integer"),
        ({"order_date": "d", "limit": 1.5}, "inputs.limit: must be an integer"),
        ({"order_date": "d", "ratio": "nan"}, "inputs.ratio: must be a finite number"),
        ({"order_date": "d", "dry_run": "perhaps"}, "inputs.dry_run: must be true or false"),
        ({"limit": 3}, "inputs.order_date: required"),
        ({"order_date": None}, "inputs.order_date: required"),
        (["2026-01-21"], "inputs: must be an object"),
        ({"order_date": "x" * 8001}, "over the limit of 8000"),
    ],
)
@pytest.mark.parametrize("via", ["task", "jobs"])
def test_bad_inputs_are_400_naming_the_parameter_and_start_nothing(operator_client, export_task, fake_relay, inputs,
                                                                  message, via):  # fmt: skip
    answer = start(operator_client, export_task, inputs, via)
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_ERROR")
    assert message in answer.json()["message"], answer.json()
    assert not Job.objects.filter(task=export_task).exists()
    assert fake_relay.requests == []


def test_the_size_limit_counts_the_whole_set(operator_client, make_task, fake_relay):
    task = make_task()
    for name in ("a", "b"):
        TaskParameter.objects.create(task=task, name=name)
    just_under = {"a": "x" * 3980, "b": "y" * 3980}  # {"a": "…", "b": "…"} = 7,978 characters
    assert start(operator_client, task, just_under).status_code == 200
    Job.objects.filter(task=task).update(status=JobStatus.CANCELLED)
    task.refresh_from_db()
    over = start(operator_client, task, {"a": "x" * 4000, "b": "y" * 4000})
    assert over.status_code == 400 and "8000" in over.json()["message"]


def test_a_start_without_a_body_still_works(operator_client, make_task, fake_relay):
    task = make_task()
    assert operator_client.post(f"/api/v1/tasks/{task.pk}/start").status_code == 200
    assert Job.objects.get(task=task).inputs == []


def test_a_scheduled_start_uses_the_defaults(make_task, fake_relay):
    from datetime import timedelta

    from django.utils import timezone

    task = make_task(trigger_time=timezone.now() - timedelta(seconds=1))
    TaskParameter.objects.create(task=task, name="shop", default="A")
    TaskParameter.objects.create(task=task, name="days", type="int", default=2, position=1)
    assert scheduler.run_once().started == [str(task.pk)]
    assert Job.objects.get(task=task).inputs == [
        {"name": "shop", "type": "str", "value": "A", "secret": False},
        {"name": "days", "type": "int", "value": 2, "secret": False},
    ]


def test_a_scheduled_start_missing_a_required_value_fails_and_says_why(make_task, fake_relay, caplog):
    from datetime import timedelta

    from django.utils import timezone

    task = make_task(trigger_time=timezone.now() - timedelta(seconds=1))
    TaskParameter.objects.create(task=task, name="order_date", required=True)
    summary = scheduler.run_once()
    assert summary.failed == [str(task.pk)] and not Job.objects.filter(task=task).exists()
    assert "inputs.order_date: required" in caplog.text


def test_retries_automatic_and_manual_reuse_the_original_inputs(operator_client, export_task, fake_relay):
    start(operator_client, export_task, {"order_date": "2026-01-21", "password": "typed-secret"})
    original = Job.objects.get(task=export_task)
    TaskParameter.objects.filter(task=export_task, name="limit").update(default=999)  # later edits do not matter
    with transaction.atomic():
        transitions.fail(original, now=original.created_at, reason=JobReason.NEVER_CONFIRMED,
                         expected=[JobStatus.DISPATCHED])  # fmt: skip
    automatic = Job.objects.get(retry_of=original)
    assert automatic.inputs == original.inputs
    assert {i["name"]: i["value"] for i in automatic.inputs}["password"] == "typed-secret"

    Job.objects.filter(pk=automatic.pk).update(status=JobStatus.CANCELLED)
    manual = operator_client.post(f"/api/v1/jobs/{automatic.pk}/retry")
    assert manual.status_code == 201
    assert Job.objects.get(pk=manual.json()["id"]).inputs == original.inputs
    assert manual.json()["inputs"]["password"] == "******" and manual.json()["inputs"]["limit"] == 50
