"""A task edit takes only the task's row lock (PostgreSQL): an edit racing a report that holds the
task's robot and then wants the task must not deadlock (the pools soak saw "deadlock detected"
on PATCH /api/v1/tasks/{id} when the edit locked task and account in one statement)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from jobs import locks
from rpa_workbench.testing.threads import run_together
from tasks import editing
from tasks.models import Task

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and deadlocks are PostgreSQL's"),
]


def test_an_edit_and_a_report_holding_the_robot_do_not_deadlock(make_task):
    task = make_task()
    robot_held = threading.Event()

    def report_like():
        with transaction.atomic():
            locks.lock_robot(task.account_id)  # the robot first, as every report does
            robot_held.set()
            time.sleep(0.5)  # the edit takes the task's lock meanwhile
            locks.lock_task(task.pk, account_id=task.account_id)
        return "report"

    def edit():
        robot_held.wait(5)
        current = Task.objects.select_related("account").get(pk=task.pk)
        editing.update_task(task=current, changes={"remark": "edited while a report runs"})
        return "edit"

    assert run_together([report_like, edit]) == ["report", "edit"]  # neither was a deadlock's victim
    assert Task.objects.get(pk=task.pk).remark == "edited while a report runs"
