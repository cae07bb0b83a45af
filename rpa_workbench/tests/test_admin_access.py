"""Every role signs in to the admin; model permissions decide what each may do there."""

from __future__ import annotations

import pytest
from django.test import Client

from tasks.models import TaskStatus

pytestmark = pytest.mark.django_db


def sign_in(user) -> tuple[Client, int]:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": user.username, "password": "pw-" + user.username}
    )
    return client, response.status_code


@pytest.mark.parametrize("who", ["operator_user", "viewer_user", "admin_user"])
def test_every_role_signs_in_to_the_admin(request, who):
    client, status = sign_in(request.getfixturevalue(who))
    assert status == 302
    assert client.get("/admin/").status_code == 200


def test_a_user_without_a_role_is_refused(django_user_model):
    nobody = django_user_model.objects.create_user(username="nobody", password="pw-nobody")
    client, status = sign_in(nobody)
    assert status == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_an_inactive_operator_is_refused(operator_user):
    operator_user.is_active = False
    operator_user.save()
    client, _ = sign_in(operator_user)
    assert client.get("/admin/").status_code == 302


def test_an_operator_is_not_made_an_admin(operator_user):
    client, _ = sign_in(operator_user)
    assert client.get("/admin/auth/user/").status_code == 403
    index = client.get("/admin/").content.decode()
    assert "/admin/tasks/task/" in index and "/admin/auth/user/" not in index


def test_an_operator_starts_a_task_from_the_admin(operator_user, make_task, fake_relay):
    task = make_task()
    client, _ = sign_in(operator_user)
    response = client.post(
        "/admin/tasks/task/", {"action": "start_selected", "_selected_action": [str(task.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert [q["tak"] for q in fake_relay.queries] == [task.app_name]
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING


def test_a_viewer_reads_tasks_but_cannot_change_them(viewer_user, make_task, fake_relay):
    task = make_task()
    client, _ = sign_in(viewer_user)
    assert client.get("/admin/tasks/task/").status_code == 200
    assert client.get(f"/admin/tasks/task/{task.pk}/change/").status_code == 200
    assert client.get("/admin/tasks/task/add/").status_code == 403
    response = client.post(
        "/admin/tasks/task/", {"action": "start_selected", "_selected_action": [str(task.pk)]}
    )
    assert response.status_code in (200, 403)
    assert fake_relay.requests == []
