"""Every change of the account list moves the cached reads' key (issue 28): each writes its
event in its own transaction (rpa_workbench/list_cache.py). What changes nothing keeps it. A
contact's times are exact to the time bucket instead (rpa_workbench/tests/test_list_cache.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import presence
from accounts.models import Account
from rpa_workbench.testing.reads import keeps_the_key, moves_the_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keyed_by_events_only")]

ACCOUNTS = "/api/v1/accounts"
BODY = {"shadow_bot_account": "bot_new", "host_ip": "10.9.0.1", "port": 8000}


def test_an_account_added_edited_and_deleted_through_the_api(operator_client, viewer_client):
    with moves_the_key(viewer_client):
        account_id = operator_client.post(ACCOUNTS, BODY, format="json").json()["id"]
    with moves_the_key(viewer_client):
        assert operator_client.put(f"{ACCOUNTS}/{account_id}", {"port": 8001}, format="json").status_code == 200
    with moves_the_key(viewer_client):
        assert operator_client.delete(f"{ACCOUNTS}/{account_id}").status_code == 200


def test_a_refused_or_empty_edit_keeps_the_key(operator_client, viewer_client, make_account):
    account = make_account()
    with keeps_the_key(viewer_client):
        assert operator_client.put(f"{ACCOUNTS}/{account.pk}", {"port": 0}, format="json").status_code == 400
        assert operator_client.put(f"{ACCOUNTS}/{account.pk}", {"port": account.port}, format="json").status_code == 200
        assert viewer_client.get(f"{ACCOUNTS}/{account.pk}").status_code == 200


def test_the_admin_bulk_delete(admin_user, viewer_client, make_account):
    from django.contrib.admin.sites import site

    make_account()
    admin = site._registry[Account]
    with moves_the_key(viewer_client):
        admin.delete_queryset(None, Account.objects.all())
    assert viewer_client.get(ACCOUNTS).json()["total"] == 0


def test_a_heartbeat_that_changes_the_robots_status_moves_the_key(robot_client, viewer_client, make_account):
    make_account(shadow_bot_account="bot_01")
    with moves_the_key(viewer_client):  # account -> running, recent_app = x: its account_updated
        robot_client.post("/api/v1/webhook/heartbeat", {"shadow_bot_account": "bot_01", "app_name": "x"}, format="json")


def test_a_first_sighting_flips_presence_and_moves_the_key(viewer_client, make_account):
    account = make_account(presence_state="unknown", last_seen_at=None)
    with moves_the_key(viewer_client):
        presence.record_contact(account_id=account.pk, when=timezone.now())
    assert viewer_client.get(ACCOUNTS).json()["items"][0]["presence"] == "online"


def test_the_sweep_of_a_robot_fallen_silent(viewer_client, make_account, settings):
    account = make_account(presence_state="online", last_seen_at=timezone.now() - timedelta(hours=1),
                           idle_heartbeat_at=timezone.now() - timedelta(hours=1))
    with moves_the_key(viewer_client):
        assert [flip.account.pk for flip in presence.sweep_presence()] == [account.pk]
