"""`PATCH /tasks/{id}` racing a `DELETE` of the same task (issue 23): the edit's locking re-read
finds no row — a 404 in the error shape, never the 500 of `Task.DoesNotExist`."""

from __future__ import annotations

import pytest
from django.db import connection

from rpa_workbench.errors import ApiError
from tasks import editing
from tasks.models import Task

pytestmark = pytest.mark.django_db


def test_an_edit_of_a_task_deleted_meanwhile_is_a_404(make_task):
    loaded = make_task()  # the copy the PATCH view loaded and validated against
    Task.objects.filter(pk=loaded.pk).delete()  # the DELETE wins
    with pytest.raises(ApiError) as refused:
        editing.update_task(task=loaded, changes={"remark": "late edit"})
    assert refused.value.status_code == 404 and refused.value.error_code == "NOT_FOUND"
    assert not Task.objects.filter(pk=loaded.pk).exists()  # nothing written back


def test_the_api_answers_the_race_with_a_404(operator_client, make_task):
    """The DELETE lands between the view's read and the edit's locking re-read (the second
    read of the row, made by `editing.update_task`)."""
    task = make_task()
    key = task.pk.hex
    reads = []

    def delete_before_the_second_read(execute, sql, params, many, context):
        names_the_task = any(key in str(param).replace("-", "") for param in params or ())
        if sql.lstrip().upper().startswith("SELECT") and 'FROM "tasks_task"' in sql and names_the_task:
            reads.append(sql)
            if len(reads) == 2:
                Task.objects.filter(pk=task.pk).delete()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(delete_before_the_second_read):
        response = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"remark": "late edit"}, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "NOT_FOUND"
