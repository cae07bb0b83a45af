"""The account and task fields of the Yingdao backend: editable through API and admin, validated."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Account, DispatchBackend
from yingdao.models import RobotClient

pytestmark = pytest.mark.django_db


def test_a_yingdao_account_needs_its_yingdao_account_name(operator_client):
    body = {"shadow_bot_account": "bot", "host_ip": "10.0.0.1", "port": 8000, "dispatch_backend": "yingdao"}
    response = operator_client.post("/api/v1/accounts", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("yingdao_account_name: required")
    response = operator_client.post("/api/v1/accounts", {**body, "yingdao_account_name": "bot@corp"}, format="json")
    assert response.status_code == 201
    assert response.json()["dispatch_backend"] == "yingdao"
    assert response.json()["yingdao_account_name"] == "bot@corp"


def test_an_account_is_switched_to_yingdao_only_when_its_tasks_name_their_app(operator_client, make_account, make_task):
    account = make_account()
    task = make_task(account=account, task_name="Daily report")
    change = {"dispatch_backend": "yingdao", "yingdao_account_name": "bot@corp"}
    response = operator_client.patch(f"/api/v1/accounts/{account.pk}", change, format="json")
    assert response.status_code == 400
    assert "Daily report" in response.json()["message"]
    response = operator_client.patch(f"/api/v1/tasks/{task.pk}", {"yingdao_robot_uuid": "app-uuid-1"}, format="json")
    assert response.status_code == 200
    response = operator_client.patch(f"/api/v1/accounts/{account.pk}", change, format="json")
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.dispatch_backend == DispatchBackend.YINGDAO


def test_tasks_of_a_yingdao_account_need_the_yingdao_robot_uuid(operator_client, make_account):
    account = make_account(dispatch_backend="yingdao", yingdao_account_name="bot@corp")
    body = {"task_name": "t", "app_name": "a", "account_id": str(account.pk)}
    response = operator_client.post("/api/v1/tasks", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("yingdao_robot_uuid: required")
    response = operator_client.post("/api/v1/tasks", {**body, "yingdao_robot_uuid": "app-uuid"}, format="json")
    assert response.status_code == 201
    assert response.json()["yingdao_robot_uuid"] == "app-uuid"
    task_id = response.json()["id"]
    response = operator_client.patch(f"/api/v1/tasks/{task_id}", {"yingdao_robot_uuid": ""}, format="json")
    assert response.status_code == 400


def test_relay_accounts_and_their_tasks_need_nothing_new(operator_client, make_account):
    response = operator_client.post(
        "/api/v1/accounts", {"shadow_bot_account": "b", "host_ip": "10.0.0.2", "port": 8000}, format="json"
    )
    assert response.status_code == 201 and response.json()["dispatch_backend"] == "relay"
    account_id = response.json()["id"]
    response = operator_client.post(
        "/api/v1/tasks", {"task_name": "t", "app_name": "a", "account_id": account_id}, format="json"
    )
    assert response.status_code == 201


def test_the_admin_validates_and_shows_the_backend_and_its_last_sync(client, admin_user, make_account):
    client.force_login(admin_user)
    body = {"shadow_bot_account": "adm", "host_ip": "10.0.0.5", "port": "8100", "status": "pending",
            "recent_app": "", "dispatch_backend": "yingdao", "yingdao_account_name": ""}  # fmt: skip
    response = client.post("/admin/accounts/account/add/", body)
    assert response.status_code == 200 and "required when dispatch_backend is yingdao" in response.content.decode()
    response = client.post("/admin/accounts/account/add/", {**body, "yingdao_account_name": "adm@corp"})
    assert response.status_code == 302
    account = Account.objects.get()
    RobotClient.objects.create(robot_client_uuid="c1", name="adm@corp", status="idle", presence="online",
                               account=account, synced_at=timezone.now())  # fmt: skip
    page = client.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()
    assert "Yingdao last sync" in page and "Idle (Online)" in page  # Yingdao's word, translated


def test_robots_yingdao_lists_but_the_workbench_does_not_know_are_added_in_one_click(client, admin_user):
    robot = RobotClient.objects.create(robot_client_uuid="c9", name="new@corp", status="idle", client_ip="10.1.2.3",
                                       synced_at=timezone.now())  # fmt: skip
    client.force_login(admin_user)
    listing = client.get("/admin/yingdao/robotclient/?known=no").content.decode()
    assert "new@corp" in listing and "Add as robot account" in listing
    response = client.post(
        "/admin/yingdao/robotclient/", {"action": "add_as_robot_account", "_selected_action": [robot.pk]}
    )
    assert response.status_code == 302
    account = Account.objects.get()
    assert (account.dispatch_backend, account.yingdao_account_name, account.host_ip) == ("yingdao", "new@corp", "10.1.2.3")
    robot.refresh_from_db()
    assert robot.account == account
