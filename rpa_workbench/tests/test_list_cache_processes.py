"""Cached reads with several server processes (issue 28): each process caches on its own, and
a change made through one is never answered stale by another (the key is the newest event
position, read from the shared database at every request)."""

from __future__ import annotations

import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = "/api/v1/tasks"


def test_a_change_through_one_server_is_read_fresh_from_the_other(live_server_factory, admin_user, make_task):
    task = make_task(remark="before")
    one, other = live_server_factory(), live_server_factory()
    auth = {"Authorization": f"Bearer {AccessToken.for_user(admin_user)}"}

    cached = requests.get(f"{one.url}{TASKS}", headers=auth, timeout=10)
    assert cached.status_code == 200 and cached.json()["items"][0]["remark"] == "before"
    assert requests.get(f"{one.url}{TASKS}", headers={**auth, "If-None-Match": cached.headers["ETag"]}, timeout=10).status_code == 304
    edited = requests.put(f"{other.url}{TASKS}/{task.pk}", json={"remark": "after"}, headers=auth, timeout=10)
    assert edited.status_code == 200

    fresh = requests.get(f"{one.url}{TASKS}", headers={**auth, "If-None-Match": cached.headers["ETag"]}, timeout=10)
    assert fresh.status_code == 200 and fresh.json()["items"][0]["remark"] == "after"
    assert requests.get(f"{other.url}{TASKS}", headers=auth, timeout=10).json()["items"][0]["remark"] == "after"
    # Both processes name the new state alike: a tag from one revalidates on the other.
    assert requests.get(f"{other.url}{TASKS}", headers={**auth, "If-None-Match": fresh.headers["ETag"]}, timeout=10).status_code == 304
