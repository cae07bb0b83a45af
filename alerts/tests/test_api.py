"""API §10: channels (admins write, everyone with a role reads, secrets never returned), the
test action, and the delivery log with its filters."""

from __future__ import annotations

import json

import pytest

from alerts.models import Channel, Delivery
from alerts.services import raise_alert

pytestmark = pytest.mark.django_db

CHANNELS = "/api/v1/alerts/channels"
DELIVERIES = "/api/v1/alerts/deliveries"
SECRET = "never-show-me-123"


def _create(client, **fields):
    body = {"name": "ops", "kind": "webhook", "target": "https://hooks.example.com/rpa", "secret": SECRET,
            "events": ["job_failed", "robot_offline"], **fields}
    return client.post(CHANNELS, body, format="json")


def test_admin_creates_a_channel_and_its_secret_is_never_returned(admin_client_api, make_account):
    robot = make_account()
    response = _create(admin_client_api, account_ids=[str(robot.pk)])
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) >= {"id", "name", "kind", "target", "enabled", "events", "account_ids", "created_at"}
    assert "secret" not in data and data["has_secret"] is True
    assert data["account_ids"] == [str(robot.pk)] and data["events"] == ["job_failed", "robot_offline"]
    assert Channel.objects.get(pk=data["id"]).secret == SECRET
    for path in (CHANNELS, f"{CHANNELS}/{data['id']}"):
        assert SECRET not in admin_client_api.get(path).content.decode()


def test_operators_and_viewers_read_channels_but_cannot_write(admin_client_api, operator_client, viewer_client):
    channel_id = _create(admin_client_api).json()["id"]
    for client in (operator_client, viewer_client):
        listing = client.get(CHANNELS)
        assert listing.status_code == 200 and listing.json()["total"] == 1
        assert SECRET not in listing.content.decode()
        assert _create(client).status_code == 403
        assert client.patch(f"{CHANNELS}/{channel_id}", {"name": "x"}, format="json").status_code == 403
        assert client.delete(f"{CHANNELS}/{channel_id}").status_code == 403
        assert client.post(f"{CHANNELS}/{channel_id}/test").status_code == 403
        assert client.get(DELIVERIES).status_code == 200
    assert Channel.objects.get(pk=channel_id).name == "ops"


def test_anonymous_callers_get_401(anon_client):
    assert anon_client.get(CHANNELS).status_code == 401
    assert anon_client.get(DELIVERIES).status_code == 401


def test_put_is_partial_and_an_omitted_secret_is_kept(admin_client_api):
    channel_id = _create(admin_client_api).json()["id"]
    response = admin_client_api.put(f"{CHANNELS}/{channel_id}", {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert Channel.objects.get(pk=channel_id).secret == SECRET
    admin_client_api.patch(f"{CHANNELS}/{channel_id}", {"secret": ""}, format="json")
    assert Channel.objects.get(pk=channel_id).secret == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"target": "ftp://example.com/x"}, "target"),
        ({"target": "not a url"}, "target"),
        ({"kind": "email", "target": "ops@example.com, nope"}, "target"),
        ({"kind": "pager"}, "kind"),
        ({"events": ["job_failed", "disk_full"]}, "events"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape(admin_client_api, fields, field):
    response = _create(admin_client_api, **fields)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and field in body["details"] and body["message"].startswith(field)
    assert Channel.objects.count() == 0


def test_email_targets_are_normalised(admin_client_api):
    response = _create(admin_client_api, kind="email", target=" ops@example.com ,oncall@example.com")
    assert response.json()["target"] == "ops@example.com, oncall@example.com"


def test_delete_answers_200_with_a_json_body(admin_client_api):
    channel_id = _create(admin_client_api).json()["id"]
    response = admin_client_api.delete(f"{CHANNELS}/{channel_id}")
    assert response.status_code == 200 and response.json()["code"] == "DELETED"
    assert not Channel.objects.filter(pk=channel_id).exists()


def test_the_test_action_sends_now_and_reports(admin_client_api, receiver):
    hook = receiver()
    channel_id = _create(admin_client_api, target=hook.url).json()["id"]
    response = admin_client_api.post(f"{CHANNELS}/{channel_id}/test")
    assert response.status_code == 200
    assert response.json() == {"success": True, "status": 200, "message": "test message sent to ops"}
    [request] = hook.requests
    assert request.headers["X-RPA-Event"] == "test" and "X-RPA-Signature" in request.headers
    assert "alert channel ops works" in json.loads(request.body)["message"]
    assert Delivery.objects.count() == 0  # a test is not an alert

    hook.status = 500
    failed = admin_client_api.post(f"{CHANNELS}/{channel_id}/test").json()
    assert failed["success"] is False and failed["status"] == 500 and "HTTP 500" in failed["message"]


def test_deliveries_are_listed_newest_first_with_filters(admin_client_api, make_channel, make_task):
    first, second = make_channel(events=["job_failed"]), make_channel(events=["job_failed", "robot_lost"])
    task = make_task()
    raise_alert(event="job_failed", task=task)
    raise_alert(event="robot_lost", task=task)
    everything = admin_client_api.get(DELIVERIES).json()
    assert everything["total"] == 3 and everything["items"][0]["event"] == "robot_lost"
    item = everything["items"][0]
    assert set(item) >= {"id", "channel_id", "event", "message", "status", "attempts", "last_status",
                         "last_error", "created_at", "sent_at"}
    by_channel = admin_client_api.get(DELIVERIES, {"channel_id": str(first.pk)}).json()
    assert by_channel["total"] == 1 and by_channel["items"][0]["channel_id"] == str(first.pk)
    assert admin_client_api.get(DELIVERIES, {"event": "robot_lost"}).json()["total"] == 1
    assert admin_client_api.get(DELIVERIES, {"status": "pending", "channel_id": str(second.pk)}).json()["total"] == 2
    paged = admin_client_api.get(DELIVERIES, {"page_size": 2, "page": 2}).json()
    assert (paged["total"], paged["total_pages"], len(paged["items"])) == (3, 2, 1)


@pytest.mark.parametrize("query", [{"status": "lost"}, {"event": "disk_full"}, {"channel_id": "nope"}])
def test_unknown_filter_values_are_a_400(admin_client_api, query):
    response = admin_client_api.get(DELIVERIES, query)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
