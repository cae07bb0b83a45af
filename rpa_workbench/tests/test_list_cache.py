"""Cached reads (issue 28, "Speed by design"): the lists and the dashboard's reads come from a
cache keyed by the normalized query, the role and the newest event position (and, where a field
is derived from the moment, a short bucket of it); their ETag is that key, so a browser's
revalidation is a 304 after one read of the newest event, with no list query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import presence
from rpa_workbench import event_store, events, list_cache
from rpa_workbench.testing.clock import Clock
from rpa_workbench.testing.reads import READS, forget_cached_reads, keeps_the_key

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts"


def read(client, path=ACCOUNTS, params=None, **headers):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params or {}, **headers)
    return response, [query["sql"] for query in captured.captured_queries]


def from_the_accounts_table(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "accounts_account" in sql]


def publish_something() -> None:
    with transaction.atomic():
        events.publish("test_event", events.payload("test_event", {}), None)


# -- served from the cache -------------------------------------------------------------------------
@pytest.mark.parametrize("path", [*READS, "/api/v1/dashboard/performance", "/api/v1/dashboard/execution-rank"])
def test_a_second_read_is_the_same_answer_without_a_query_of_the_rows(admin_client_api, make_task, make_log, path, keyed_by_events_only):
    make_task()
    make_log()
    first, _ = read(admin_client_api, path)
    second, statements = read(admin_client_api, path)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second["ETag"] == first["ETag"]
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    # The JWT's user and the newest event position: nothing else.
    assert len(statements) == 2, statements
    assert any("rpa_event" in sql for sql in statements)


def test_a_revalidation_with_the_etag_is_a_304_after_one_read_of_the_newest_event(viewer_client, make_account, keyed_by_events_only):
    make_account()
    first, _ = read(viewer_client)
    assert first["ETag"].startswith('W/"') and "no-cache" in first["Cache-Control"] and "private" in first["Cache-Control"]
    forget_cached_reads()  # even with nothing cached: the key alone answers
    again, statements = read(viewer_client, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]
    assert not from_the_accounts_table(statements)
    # The JWT's user, its permissions (the permission check), the key.
    assert [sql for sql in statements if "rpa_event" in sql] and len(statements) == 3


def test_a_new_event_moves_the_key_and_the_answer_is_read_again(viewer_client, make_account, keyed_by_events_only):
    first, _ = read(viewer_client)
    make_account()  # a factory: no event ...
    assert read(viewer_client, HTTP_IF_NONE_MATCH=first["ETag"])[0].status_code == 304
    publish_something()  # ... the event of a change moves the key
    again, statements = read(viewer_client, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again.json()["total"] == 1
    assert from_the_accounts_table(statements)


def test_a_committed_event_moves_the_key_before_it_is_stamped(viewer_client, keyed_by_events_only):
    """On PostgreSQL an event gets its position after the commit (the sequencer): in between,
    the change is visible, so the key must already have moved. (On SQLite the insert stamps.)"""
    before = event_store.watermark()
    publish_something()  # no on-commit hand-over in this test: the event stays unstamped on PostgreSQL
    after = event_store.watermark()
    assert after != before
    if event_store.stamps_after_commit():
        assert after == (before[0], before[1] + 1)
        event_store.sequence()
        assert event_store.watermark() == (before[0] + 1 if before[0] else event_store.current_id(), 0)
    else:
        assert after == (before[0] + 1, 0)


def test_the_query_is_normalized_and_each_query_has_its_own_key(viewer_client, make_account, keyed_by_events_only):
    for _ in range(3):
        make_account()
    one = read(viewer_client, params={"page": 1, "page_size": 2})[0]
    same = viewer_client.get(f"{ACCOUNTS}?page_size=2&page=1")
    other = read(viewer_client, params={"page": 2, "page_size": 2})[0]
    assert one["ETag"] == same["ETag"] != other["ETag"]
    assert [item["id"] for item in one.json()["items"]] != [item["id"] for item in other.json()["items"]]


def test_the_key_names_the_role_and_a_user_without_the_permission_is_refused_a_cached_page(
    admin_client_api, viewer_client, make_account, django_user_model, keyed_by_events_only):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    make_account()
    admin = read(admin_client_api)[0]
    viewer = read(viewer_client)[0]
    assert admin.content == viewer.content and admin["ETag"] != viewer["ETag"]
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=admin["ETag"]).status_code == 200
    nobody = APIClient()
    nobody.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(django_user_model.objects.create_user('nobody'))}")
    assert nobody.get(ACCOUNTS).status_code == 403
    assert nobody.get(ACCOUNTS, HTTP_IF_NONE_MATCH=viewer["ETag"]).status_code == 403
    assert APIClient().get(ACCOUNTS, HTTP_IF_NONE_MATCH=viewer["ETag"]).status_code == 401


def test_a_value_holding_separators_is_not_another_query(viewer_client, make_account, keyed_by_events_only):
    make_account(shadow_bot_account="robot_a", status="pending")
    plain = viewer_client.get(ACCOUNTS, {"search": "robot_a", "status": "pending"})
    glued = viewer_client.get(f"{ACCOUNTS}?search=robot_a%26status%3Dpending")  # one search value
    assert plain["ETag"] != glued["ETag"]
    assert plain.json()["total"] == 1 and glued.json()["total"] == 0


def test_errors_are_not_cached(viewer_client, keyed_by_events_only):
    bad = viewer_client.get(ACCOUNTS, {"page": "x"})
    assert bad.status_code == 400 and "ETag" not in bad
    assert viewer_client.get(ACCOUNTS, {"page": "x"}).status_code == 400


def test_an_if_none_match_naming_another_tag_or_a_list_of_tags(viewer_client, keyed_by_events_only):
    tag = read(viewer_client)[0]["ETag"]
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH='W/"other"').status_code == 200
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=f'"x", {tag}').status_code == 304
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=tag.removeprefix("W/")).status_code == 304  # weak comparison


# -- time-derived fields -----------------------------------------------------------------------------
@pytest.fixture
def clock(monkeypatch, settings):
    """The presence clock, and the moment of the other time-derived read (the logs' signed links),
    on one controllable clock: a real second passing between two reads must not move a key."""
    from executionlogs.views import ExecutionLogViewSet

    settings.RPA_PRESENCE_TIMEOUT = 120
    settings.RPA_LIST_CACHE_BUCKET_SECONDS = 1
    fake = Clock()
    monkeypatch.setattr(presence, "clock", fake)
    monkeypatch.setattr(ExecutionLogViewSet, "cache_clock", lambda view: fake(), raising=False)
    return fake


def test_presence_is_exact_to_the_bucket_with_no_event_at_all(viewer_client, robot_client, make_account, clock):
    robot = make_account(shadow_bot_account="bot_01", idle_heartbeat_at=timezone.now())
    assert robot_client.post("/api/v1/webhook/heartbeat", {"shadow_bot_account": "bot_01"}, format="json").status_code == 200
    clock.advance(119)
    first = read(viewer_client)[0]
    assert first.json()["items"][0]["presence"] == "online"
    clock.advance(0.5)  # the same bucket, the same answer
    assert read(viewer_client, HTTP_IF_NONE_MATCH=first["ETag"])[0].status_code == 304
    clock.advance(1.5)  # past the timeout: no sweep has run, no event; the next bucket is read again
    later = read(viewer_client, HTTP_IF_NONE_MATCH=first["ETag"])[0]
    assert later.status_code == 200
    assert later.json()["items"][0]["presence"] == "offline"
    assert later.json()["items"][0]["id"] == str(robot.pk)


@pytest.mark.parametrize(
    "contact",
    [
        pytest.param(lambda pk, now: presence.record_contact(account_id=pk, when=now), id="online robot"),
        pytest.param(lambda pk, now: presence.record_contact(account_id=pk, when=now, idle=True), id="idle heartbeat"),
        pytest.param(lambda pk, now: __import__("yingdao.clients_sync").clients_sync.record_seen([pk], now),
                     id="yingdao client list"),
    ],
)
def test_a_contact_publishes_no_event_and_the_list_shows_it_from_the_next_time_bucket(
    viewer_client, make_account, clock, contact
):
    """A contact of a robot already online moves only contact times (last_seen_at,
    idle_heartbeat_at): no event (one per heartbeat would reach every browser and move every
    key), so within one time bucket the cached list may show the previous contact; from the next
    bucket it shows this one: exact to RPA_LIST_CACHE_BUCKET_SECONDS."""
    account = make_account(presence_state="online", last_seen_at=clock() - timedelta(seconds=5))
    before = viewer_client.get(ACCOUNTS)
    with keeps_the_key(viewer_client, ("/api/v1/tasks", "/api/v1/jobs", "/api/v1/logs")):
        contact(account.pk, clock())
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304  # the same bucket
    clock.advance(1)
    after = viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    account.refresh_from_db()
    assert after.json()["items"][0]["last_seen_at"] == viewer_client.get(f"{ACCOUNTS}/{account.pk}").json()["last_seen_at"]
    assert after.json()["items"][0]["last_seen_at"] != before.json()["items"][0]["last_seen_at"]


def test_a_read_without_time_derived_fields_keeps_its_key_as_time_passes(viewer_client, make_task, clock, monkeypatch):
    make_task()
    tag = read(viewer_client, "/api/v1/tasks")[0]["ETag"]
    later = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(list_cache.timezone, "now", lambda: later)
    clock.advance(3600)
    assert viewer_client.get("/api/v1/tasks", HTTP_IF_NONE_MATCH=tag).status_code == 304


def test_with_no_bucket_a_time_derived_read_is_computed_at_every_moment(viewer_client, make_account, clock, settings):
    settings.RPA_LIST_CACHE_BUCKET_SECONDS = 0
    make_account()
    tag = read(viewer_client)[0]["ETag"]
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=tag).status_code == 304  # the same moment
    clock.advance(0.001)
    assert viewer_client.get(ACCOUNTS, HTTP_IF_NONE_MATCH=tag).status_code == 200


# -- the dashboard ------------------------------------------------------------------------------------
def test_the_stats_cache_the_event_derived_figures_and_read_the_work_queues_every_time(
    admin_client_api, make_log, keyed_by_events_only
):
    from workqueues.models import WorkQueue

    make_log()
    first = admin_client_api.get("/api/v1/dashboard/stats").json()
    WorkQueue.objects.create(name="invoices")  # no event: the queues are read at every request
    second, statements = read(admin_client_api, "/api/v1/dashboard/stats")
    body = second.json()
    assert body["execution_logs"] == first["execution_logs"] and body["accounts"] == first["accounts"]
    assert [queue["name"] for queue in body["queues"]] == ["invoices"] and first["queues"] == []
    assert not [sql for sql in statements if "executionlogs_executionlog" in sql]
    assert "ETag" not in second  # a part of it is not a function of the key


# -- where the cache lives ------------------------------------------------------------------------------
def test_the_shared_database_cache_serves_the_same_answers(viewer_client, make_account, settings, keyed_by_events_only):
    from django.core.management import call_command

    settings.CACHES = {**settings.CACHES, "shared": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                                     "LOCATION": "rpa_list_cache"}}
    settings.RPA_LIST_CACHE_ALIAS = "shared"
    call_command("createcachetable", "rpa_list_cache", verbosity=0)
    make_account()
    first = read(viewer_client)[0]
    second, statements = read(viewer_client)
    assert second.content == first.content and not from_the_accounts_table(statements)
    assert [sql for sql in statements if "rpa_list_cache" in sql]  # the hit came from the table


@pytest.mark.parametrize("value, backend", [("local", "LocMemCache"), ("database", "DatabaseCache"), ("off", "DummyCache")])
def test_the_cache_setting_names_where_it_lives_and_refuses_anything_else(value, backend):
    import subprocess
    import sys

    from django.conf import settings as django_settings

    code = "from django.conf import settings; print(settings.CACHES[settings.RPA_LIST_CACHE_ALIAS]['BACKEND'])"
    env = {"RPA_LIST_CACHE": value, "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings",
           "DJANGO_SECRET_KEY": "x" * 50, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=django_settings.BASE_DIR)
    assert done.returncode == 0 and done.stdout.strip().endswith(backend), done.stderr
    if value != "local":
        return
    env["RPA_LIST_CACHE"] = "redis"
    refused = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             cwd=django_settings.BASE_DIR)
    assert refused.returncode != 0 and "RPA_LIST_CACHE must be one of local, database, off" in refused.stderr
