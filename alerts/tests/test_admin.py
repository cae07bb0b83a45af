"""The alerts admin: the channel secret is a write-only password field that keeps its value
when left blank; the "send test" action; read-only deliveries filterable by channel, event, status."""

from __future__ import annotations

import time

import pytest
from django.contrib.messages import get_messages

from alerts.models import Channel
from alerts.services import raise_alert

pytestmark = pytest.mark.django_db

CHANNELS_URL = "/admin/alerts/channel/"
DELIVERIES_URL = "/admin/alerts/delivery/"
SECRET = "admin-form-secret-987"


def _form(**fields):
    return {"name": "ops", "kind": "webhook", "target": "https://hooks.example.com/x", "secret": "",
            "enabled": "on", "events": ["job_failed"], **fields}


def test_the_secret_is_saved_never_shown_and_kept_when_left_blank(root):
    assert root.post(f"{CHANNELS_URL}add/", _form(secret=SECRET)).status_code == 302
    channel = Channel.objects.get()
    assert channel.secret == SECRET
    page = root.get(f"{CHANNELS_URL}{channel.pk}/change/").content.decode()
    assert 'type="password"' in page and SECRET not in page

    assert root.post(f"{CHANNELS_URL}{channel.pk}/change/", _form(name="ops 2")).status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("ops 2", SECRET)

    root.post(f"{CHANNELS_URL}{channel.pk}/change/", _form(clear_secret="on"))
    channel.refresh_from_db()
    assert channel.secret == ""


def test_a_bad_target_is_a_form_error(root):
    response = root.post(f"{CHANNELS_URL}add/", _form(target="javascript:alert(1)"))
    assert response.status_code == 200 and "must be an http:// or https:// URL" in response.content.decode()
    assert not Channel.objects.exists()


def test_send_test_action_reports_each_channel(root, receiver, make_channel):
    hook = receiver()
    good = make_channel(name="good", target=hook.url)
    bad = make_channel(name="bad", target="http://127.0.0.1:9/closed")
    response = root.post(CHANNELS_URL, {"action": "send_test", "_selected_action": [str(good.pk), str(bad.pk)]})
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert "good: test message sent to good" in texts
    assert any(text.startswith("bad: test message failed: could not connect") for text in texts)
    assert len(hook.requests) == 1


def test_send_test_action_sends_to_the_selected_channels_at_once(root, receiver, make_channel):
    slow = [receiver() for _ in range(3)]
    for fake in slow:
        fake.delay = 0.7
    channels = [make_channel(name=f"slow {n}", target=fake.url) for n, fake in enumerate(slow)]
    started = time.monotonic()
    root.post(CHANNELS_URL, {"action": "send_test", "_selected_action": [str(c.pk) for c in channels]})
    assert all(len(fake.requests) == 1 for fake in slow)
    assert time.monotonic() - started < 1.9  # not 3 x 0.7 s one after another


def test_viewers_see_channels_without_secrets_and_cannot_change_them(client, viewer_user, make_channel):
    channel = make_channel(secret=SECRET)
    client.force_login(viewer_user)
    page = client.get(f"{CHANNELS_URL}{channel.pk}/change/")
    assert page.status_code == 200 and SECRET not in page.content.decode()
    assert client.post(f"{CHANNELS_URL}{channel.pk}/change/", _form(name="hijacked")).status_code == 403
    client.post(CHANNELS_URL, {"action": "send_test", "_selected_action": [str(channel.pk)]})
    channel.refresh_from_db()
    assert channel.name != "hijacked"


def test_deliveries_filter_by_channel_event_and_status(root, make_channel, make_task):
    channel = make_channel(name="pager", events=["robot_lost"])
    raise_alert(event="robot_lost", task=make_task())
    for query in (f"channel__id__exact={channel.pk}", "event__exact=robot_lost", "status__exact=pending"):
        page = root.get(f"{DELIVERIES_URL}?{query}")
        assert page.status_code == 200 and "1 delivery" in page.content.decode(), query
    assert root.get("/admin/alerts/alert/").status_code == 200
