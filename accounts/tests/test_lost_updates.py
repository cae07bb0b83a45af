"""Issue 14 bug 1 for accounts: an edit writes only what its client changed, and never the
columns robots own (status, recent_app, end_time, last_heartbeat_at, last_seen_at).

A heartbeat (a queryset `.update()`, as the webhook writes) lands after the edit loaded the
account and before it saved.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import Account, AccountStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts"
ADMIN_URL = "/admin/accounts/account/"


@pytest.fixture
def lands_before_save(monkeypatch):
    """Run `write()` after the view loaded and validated the account, just before it is saved."""

    def arrange(write):
        original = services.update_account

        def racing(account, **fields):
            write()
            return original(account, **fields)

        monkeypatch.setattr(services, "update_account", racing)

    return arrange


def heartbeat(account: Account):
    now = timezone.now()
    return lambda: Account.objects.filter(pk=account.pk).update(
        status=AccountStatus.RUNNING, recent_app="daily_report", last_heartbeat_at=now, last_seen_at=now
    )


def assert_heartbeat_kept(account: Account) -> None:
    account.refresh_from_db()
    assert account.status == AccountStatus.RUNNING and account.recent_app == "daily_report"
    assert account.last_heartbeat_at is not None and account.last_seen_at is not None


def test_an_edit_does_not_undo_a_heartbeat_that_landed_meanwhile(operator_client, make_account, lands_before_save):
    account = make_account(port=8000)
    lands_before_save(heartbeat(account))

    response = operator_client.patch(f"{URL}/{account.pk}", {"port": 8001}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "running" and response.json()["task_control"].endswith(":8001")
    assert_heartbeat_kept(account)
    assert account.port == 8001


def test_the_spa_sending_the_whole_account_back_does_not_reset_its_status(
    operator_client, make_account, lands_before_save
):
    account = make_account()
    shown = operator_client.get(f"{URL}/{account.pk}").json()
    lands_before_save(heartbeat(account))

    form = {key: shown[key] for key in ("shadow_bot_account", "host_ip", "port", "status", "recent_app")}
    response = operator_client.put(f"{URL}/{account.pk}", {**form, "port": 8123}, format="json")

    assert response.status_code == 200
    assert_heartbeat_kept(account)
    assert account.port == 8123


def test_an_edit_never_writes_the_columns_robots_own(operator_client, make_account):
    account = make_account(status=AccountStatus.RUNNING)
    response = operator_client.patch(f"{URL}/{account.pk}", {"status": "pending", "recent_app": "x"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "running"
    account.refresh_from_db()
    assert account.status == AccountStatus.RUNNING and account.recent_app is None


def test_the_domain_function_with_a_stale_copy_writes_only_the_change(make_account):
    account = make_account(port=8000)
    stale = Account.objects.get(pk=account.pk)
    heartbeat(account)()

    services.update_account(stale, port=8002, status=stale.status, shadow_bot_account=stale.shadow_bot_account)

    assert_heartbeat_kept(account)
    assert account.port == 8002 and account.task_control.endswith(":8002")


def test_the_admin_change_form_does_not_undo_a_heartbeat(client, admin_user, make_account, lands_before_save):
    client.force_login(admin_user)
    account = make_account(port=8000)
    lands_before_save(heartbeat(account))

    response = client.post(
        f"{ADMIN_URL}{account.pk}/change/",
        {"shadow_bot_account": account.shadow_bot_account, "host_ip": account.host_ip, "port": "8005",
         "status": "pending", "recent_app": "",
         # the (read-only, empty) inlines' management forms (recent runs, recent jobs), as a browser posts them
         **{f"{prefix}-{name}_FORMS": "0" for prefix in ("execution_logs", "jobs")
            for name in ("TOTAL", "INITIAL", "MIN_NUM", "MAX_NUM")}},
    )

    assert response.status_code == 302
    assert_heartbeat_kept(account)
    assert account.port == 8005
