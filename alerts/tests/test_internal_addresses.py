"""Alert channels never reach internal addresses (issue 23): loopback, private, link-local and
metadata addresses are refused when a channel is saved, when it is tested, when an alert is
delivered and on every redirect hop — after DNS resolution, whatever the spelling — unless
RPA_ALERT_ALLOWED_INTERNAL_HOSTS names the host. And no upstream answer text is ever stored or
shown: only its status and a short reason of ours.

The fake receivers are real local HTTP servers on 127.0.0.1: each test proves that a refused
channel's receiver got nothing."""

from __future__ import annotations

import json

import pytest

from alerts import worker
from alerts.models import Channel, Delivery, DeliveryStatus
from alerts.services import raise_alert
from resources import proxy
from rpa_workbench import outbound

pytestmark = pytest.mark.django_db

CHANNELS = "/api/v1/alerts/channels"

# Every spelling of "this machine" the outside pass tried, and the metadata address.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "0.0.0.0",
    "2130706433",
    "0177.0.0.1",
    "0x7f.0.0.1",
    "127.1",
    "[::ffff:127.0.0.1]",
    "[::1]",
]
OTHER_INTERNAL = ["169.254.169.254", "10.1.2.3", "192.168.1.10", "172.16.0.1", "100.100.100.200", "[fe80::1]"]


@pytest.fixture
def no_allow_list(settings):
    settings.RPA_ALERT_ALLOWED_INTERNAL_HOSTS = []
    return settings


def _url(host: str, port: int, path: str = "/hook") -> str:
    return f"http://{host}:{port}{path}"


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + OTHER_INTERNAL)
def test_saving_a_channel_aimed_at_an_internal_address_is_a_400(no_allow_list, admin_client_api, host):
    body = {"name": "internal", "kind": "dingtalk", "target": _url(host, 8080, "/robot/send?access_token=t"),
            "events": ["job_failed"]}
    response = admin_client_api.post(CHANNELS, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "VALIDATION_ERROR" and "target" in data["details"]
    assert "RPA_ALERT_ALLOWED_INTERNAL_HOSTS" in data["message"]
    assert not Channel.objects.exists()


def test_the_admin_form_refuses_an_internal_target(no_allow_list, root):
    form = {"name": "ops", "kind": "webhook", "target": "http://127.1:8080/x", "secret": "", "enabled": "on",
            "events": ["job_failed"]}
    response = root.post("/admin/alerts/channel/add/", form)
    assert response.status_code == 200 and "RPA_ALERT_ALLOWED_INTERNAL_HOSTS" in response.content.decode()
    assert not Channel.objects.exists()


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_testing_a_channel_aimed_at_this_machine_posts_nothing(no_allow_list, admin_client_api, receiver,
                                                               make_channel, host):
    hook = receiver()
    port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
    channel = make_channel(kind="wecom", target=_url(host, port, "/cgi-bin/webhook/send?key=K"))  # saved before the fix
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test").json()
    assert answer["success"] is False and answer["status"] is None
    assert "not allowed for alerts" in answer["message"]
    assert hook.requests == []


def test_the_metadata_address_is_refused_before_any_connection(no_allow_list, admin_client_api, make_channel):
    channel = make_channel(kind="webhook", target="http://169.254.169.254/latest/meta-data/")
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test").json()
    assert answer["success"] is False and "a cloud metadata address" in answer["message"]


def test_a_delivery_to_an_internal_address_is_refused_and_says_why(no_allow_list, receiver, make_channel,
                                                                    make_task):
    hook = receiver()
    channel = make_channel(target=hook.url.replace("127.0.0.1", "localhost"))
    raise_alert(event="job_failed", task=make_task())
    assert worker.run_once() == [DeliveryStatus.PENDING]
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.last_status is None
    assert delivery.last_error == "refused: localhost is a loopback address (127.0.0.1), not allowed for alerts"
    assert hook.requests == []


def test_a_public_name_resolving_to_an_internal_address_is_refused(no_allow_list, monkeypatch, admin_client_api,
                                                                   make_channel):
    """DNS is asked by the guard itself (here a stand-in answering a private address)."""
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: ["93.184.216.34", "10.0.0.7"])
    response = admin_client_api.post(
        CHANNELS, {"name": "x", "kind": "webhook", "target": "https://hooks.example.com/rpa"}, format="json"
    )
    assert response.status_code == 400 and "10.0.0.7" in response.json()["message"]
    channel = make_channel(target="https://hooks.example.com/rpa")
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test").json()
    assert answer["success"] is False and "a private address (10.0.0.7)" in answer["message"]


def test_alerts_and_the_resource_proxy_share_one_guard():
    assert proxy.validate_url.__module__ == "resources.proxy"
    from alerts.channels import base

    assert base.outbound is outbound and proxy.outbound is outbound


def test_a_redirect_to_an_internal_address_is_refused(admin_client_api, receiver, make_channel):
    """127.0.0.1 is allow-listed (the tests' setting); `localhost`, where it redirects, is not."""
    inner = receiver()
    inner_port = int(inner.url.rsplit(":", 1)[1].split("/")[0])
    outer = receiver()
    outer.status = 307
    outer.headers = {"Location": f"http://localhost:{inner_port}/admin-only"}
    channel = make_channel(target=outer.url)
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test").json()
    assert answer["success"] is False
    assert "refused: a redirect: localhost is a loopback address" in answer["message"]
    assert len(outer.requests) == 1 and inner.requests == []


def test_a_307_redirect_to_an_allowed_receiver_is_followed_with_its_body(admin_client_api, receiver, make_channel):
    inner = receiver()
    outer = receiver()
    outer.status = 307
    outer.headers = {"Location": inner.url + "/moved"}
    channel = make_channel(target=outer.url)
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test").json()
    assert answer["success"] is True
    [request] = inner.requests
    assert request.method == "POST" and request.path == "/hook/moved"
    assert "works" in json.loads(request.body)["message"]


@pytest.mark.parametrize("entries", [["localhost"], ["127.0.0.0/8"], ["127.0.0.1"]])
def test_the_allow_list_lets_an_on_premises_receiver_through(settings, admin_client_api, receiver, entries):
    settings.RPA_ALERT_ALLOWED_INTERNAL_HOSTS = entries
    hook = receiver()
    host = "localhost" if entries == ["localhost"] else "127.0.0.1"
    target = hook.url.replace("127.0.0.1", host)
    response = admin_client_api.post(CHANNELS, {"name": "on-prem", "kind": "webhook", "target": target}, format="json")
    assert response.status_code == 201, response.content
    answer = admin_client_api.post(f"{CHANNELS}/{response.json()['id']}/test").json()
    assert answer["success"] is True and len(hook.requests) == 1


def test_an_entry_names_a_host_exactly(settings, admin_client_api):
    settings.RPA_ALERT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    for target in ("http://127.1:8080/x", "http://localhost:8080/x", "http://2130706433:8080/x"):
        response = admin_client_api.post(CHANNELS, {"name": "x", "kind": "webhook", "target": target}, format="json")
        assert response.status_code == 400, target


UPSTREAM_TEXT = "internal-page-7f3a: root password is hunter2"


@pytest.mark.parametrize(
    ("kind", "status", "body", "reason"),
    [
        ("webhook", 500, UPSTREAM_TEXT.encode(), "HTTP 500"),
        ("dingtalk", 200, f"<html>{UPSTREAM_TEXT}</html>".encode(), "unexpected answer (not JSON)"),
        ("wecom", 200, json.dumps({"errcode": 93000, "errmsg": UPSTREAM_TEXT}).encode(),
         "errcode 93000: the webhook key is not valid"),
        ("feishu", 200, json.dumps({"code": 777, "msg": UPSTREAM_TEXT}).encode(),
         "code 777: the robot refused the message"),
        ("dingtalk", 200, json.dumps({"errcode": UPSTREAM_TEXT}).encode(), "unexpected answer (errcode is not a number)"),
    ],
)
def test_no_upstream_text_is_stored_or_shown(admin_client_api, viewer_client, receiver, make_channel, make_task,
                                             kind, status, body, reason):
    hook = receiver()
    hook.status, hook.body = status, body
    channel = make_channel(kind=kind, target=hook.url)
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test")
    assert answer.json()["message"] == f"test message failed: {reason}"
    raise_alert(event="job_failed", task=make_task())
    worker.run_once()
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.last_status == status and delivery.last_error == reason
    listing = viewer_client.get("/api/v1/alerts/deliveries").content.decode()
    assert UPSTREAM_TEXT not in listing and UPSTREAM_TEXT not in answer.content.decode()


def test_an_egress_proxy_from_the_environment_is_used_and_targets_are_still_checked(
    no_allow_list, monkeypatch, admin_client_api, receiver, make_channel
):
    """Behind a corporate proxy (HTTP_PROXY / HTTPS_PROXY, NO_PROXY honoured) alerts go through
    it, as they did with requests; an internal target is refused before the proxy sees it."""
    proxy = receiver()
    monkeypatch.setenv("HTTP_PROXY", proxy.url.rsplit("/", 1)[0])
    monkeypatch.setenv("NO_PROXY", "")
    dns = {"hooks.example.com": ["93.184.216.34"], "localhost": ["127.0.0.1"]}
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: dns[host])
    channel = make_channel(target="http://hooks.example.com/rpa?x=1")
    answer = admin_client_api.post(f"{CHANNELS}/{channel.pk}/test").json()
    assert answer["success"] is True
    [request] = proxy.requests
    assert request.method == "POST" and request.path == "/rpa" and request.headers["Host"] == "hooks.example.com"

    internal = make_channel(target="http://localhost:8080/rpa")
    refused = admin_client_api.post(f"{CHANNELS}/{internal.pk}/test").json()
    assert refused["success"] is False and "loopback" in refused["message"] and len(proxy.requests) == 1
