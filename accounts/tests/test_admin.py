"""The accounts admin: list, create through the services, duplicates refused."""

from __future__ import annotations

import pytest

from accounts.models import Account

pytestmark = pytest.mark.django_db


def test_admin_site_is_titled(client, admin_user):
    client.force_login(admin_user)
    assert "RPA Workbench" in client.get("/admin/").content.decode()


def test_account_changelist_shows_task_count(client, admin_user, make_account, make_task):
    account = make_account(shadow_bot_account="listed_bot")
    make_task(account=account)
    client.force_login(admin_user)
    html = client.get("/admin/accounts/account/").content.decode()
    assert "listed_bot" in html
    assert "column-task_count" in html


def test_admin_creates_account_with_derived_task_control(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/account/add/",
        {"shadow_bot_account": "adm", "host_ip": "10.0.0.5", "port": "8100", "status": "pending", "recent_app": ""},
    )
    assert response.status_code == 302
    assert Account.objects.get().task_control == "adm-10.0.0.5:8100"


def test_admin_refuses_duplicate_account_with_a_form_error(client, admin_user, make_account):
    make_account(shadow_bot_account="adm", host_ip="10.0.0.5", port=8100)
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/account/add/",
        {"shadow_bot_account": "adm", "host_ip": "10.0.0.5", "port": "8100", "status": "pending", "recent_app": ""},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Account.objects.count() == 1
