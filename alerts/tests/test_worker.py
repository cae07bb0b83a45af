"""The delivery worker: retries with backoff (driven by a controllable clock), `failed` after the
last attempt, one claim per row among several workers, and a hanging channel delaying nobody."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import worker
from alerts.models import Delivery, DeliveryStatus
from alerts.services import raise_alert
from rpa_workbench.testing.threads import run_together

BACKOFF_MINUTES = [1, 5, 30, 120, 360]


def seconds_until(fake, count: int, *, threads: int, interval: float) -> float:
    """Run the worker loop in a thread until `fake` has received `count` requests (10 s at most);
    the seconds that took. The loop and its pool are stopped and drained before returning."""
    stop = threading.Event()
    loop = worker.Worker(threads=threads)
    thread = threading.Thread(target=loop.run_forever, args=(stop, interval), daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        while len(fake.requests) < count and time.monotonic() - started < 10:
            time.sleep(0.02)
        return time.monotonic() - started
    finally:
        stop.set()
        thread.join(10)
        loop.pool.shutdown(wait=True)  # let a hanging send finish before the database goes


@pytest.mark.django_db
def test_failures_are_retried_with_backoff_then_marked_failed(receiver, make_channel, make_task):
    hook = receiver()
    hook.status = 503
    hook.body = b'{"error": "down for maintenance"}'
    channel = make_channel(target=hook.url)
    now = timezone.now()
    raise_alert(event="job_failed", task=make_task(), now=now)

    for attempt, minutes in enumerate(BACKOFF_MINUTES, start=1):
        assert worker.run_once(now=now) == [DeliveryStatus.PENDING]
        delivery = Delivery.objects.get(channel=channel)
        assert delivery.attempts == attempt
        assert delivery.next_attempt_at == now + timedelta(minutes=minutes)
        # Not due a second before the backoff ends; due at its end.
        assert worker.run_once(now=delivery.next_attempt_at - timedelta(seconds=1)) == []
        now = delivery.next_attempt_at

    assert worker.run_once(now=now) == [DeliveryStatus.FAILED]
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.attempts == 6 and delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status == 503 and "HTTP 503" in delivery.last_error and delivery.sent_at is None
    assert worker.run_once(now=now + timedelta(days=1)) == []  # never again
    # Every attempt carried the same delivery id.
    assert {r.headers["X-RPA-Delivery"] for r in hook.requests} == {str(delivery.pk)}
    assert len(hook.requests) == 6


@pytest.mark.django_db
def test_a_retry_that_succeeds_is_sent(receiver, make_channel, make_task):
    hook = receiver()
    hook.status = 500
    channel = make_channel(target=hook.url)
    now = timezone.now()
    raise_alert(event="job_failed", task=make_task(), now=now)
    worker.run_once(now=now)
    hook.status = 200
    later = now + timedelta(minutes=1)
    assert worker.run_once(now=later) == [DeliveryStatus.SENT]
    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.attempts, delivery.last_status, delivery.last_error, delivery.sent_at) == (2, 200, "", later)


@pytest.mark.django_db
def test_a_timeout_is_a_failed_attempt(settings, receiver, make_channel, make_task):
    settings.RPA_ALERT_TIMEOUT = 0.2
    hook = receiver()
    hook.delay = 1.0
    channel = make_channel(target=hook.url)
    raise_alert(event="job_failed", task=make_task())
    assert worker.run_once() == [DeliveryStatus.PENDING]
    assert Delivery.objects.get(channel=channel).last_error.startswith("timed out")


@pytest.mark.django_db
def test_a_leased_delivery_is_not_claimed_again_until_its_lease_expires(make_channel, make_task):
    make_channel()
    now = timezone.now()
    raise_alert(event="job_failed", task=make_task(), now=now)
    [claimed] = worker.claim_due(now, 10)
    assert worker.claim_due(now, 10) == []
    # The worker died mid-send: after the lease, another worker takes the row.
    assert [d.pk for d in worker.claim_due(now + worker.LEASE + timedelta(seconds=1), 10)] == [claimed.pk]


def test_several_workers_claim_each_delivery_once(transactional_db, make_channel, make_task):
    make_channel()
    now = timezone.now()
    for _ in range(5):
        raise_alert(event="job_failed", task=make_task(), now=now)
    ids = Delivery.objects.values_list("pk", flat=True)
    results = run_together([lambda: [worker.claim(pk, now) for pk in ids] for _ in range(4)])
    winners = [d.pk for claims in results for d in claims if d is not None]
    assert sorted(winners) == sorted(ids)


def test_a_hanging_channel_does_not_delay_another(transactional_db, settings, receiver, make_channel, make_task):
    settings.RPA_ALERT_TIMEOUT = 5.0
    hanging, healthy = receiver(), receiver()
    hanging.delay = 3.0
    make_channel(name="hangs", target=hanging.url)
    make_channel(name="healthy", target=healthy.url)
    for _ in range(2):
        raise_alert(event="job_failed", task=make_task())

    elapsed = seconds_until(healthy, 2, threads=2, interval=0.05)
    assert len(healthy.requests) == 2
    assert elapsed < 1.5, f"the healthy channel waited {elapsed:.2f}s behind the hanging one"
    assert len(hanging.requests) == 1  # one send at a time per channel


@pytest.mark.django_db
def test_a_disabled_channel_is_not_sent_to(receiver, make_channel, make_task):
    hook = receiver()
    channel = make_channel(target=hook.url)
    raise_alert(event="job_failed", task=make_task())
    channel.enabled = False
    channel.save(update_fields=["enabled"])
    assert worker.run_once() == [] and hook.requests == []


def test_the_lease_outlasts_the_longest_send(settings):
    settings.RPA_ALERT_CONNECT_TIMEOUT, settings.RPA_ALERT_TIMEOUT = 10, 50
    assert worker.lease() == timedelta(seconds=240)
    settings.RPA_ALERT_CONNECT_TIMEOUT, settings.RPA_ALERT_TIMEOUT = 3, 10
    assert worker.lease() == worker.LEASE


def test_a_hanging_channel_with_a_backlog_does_not_delay_another(
    transactional_db, settings, receiver, make_channel, make_task
):
    """The hanging channel's many older deliveries come first in time; the healthy channel's
    still go out at once."""
    settings.RPA_ALERT_TIMEOUT = 5.0
    hanging, healthy = receiver(), receiver()
    hanging.delay = 3.0
    make_channel(name="hangs", target=hanging.url, events=["robot_lost"])
    make_channel(name="healthy", target=healthy.url, events=["job_failed"])
    task = make_task()
    now = timezone.now()
    for seconds in range(30):
        raise_alert(event="robot_lost", task=task, now=now - timedelta(minutes=5, seconds=-seconds))
    for _ in range(3):
        raise_alert(event="job_failed", task=task, now=now)

    elapsed = seconds_until(healthy, 3, threads=2, interval=0.05)
    assert len(healthy.requests) == 3
    assert elapsed < 2.0, f"the healthy channel waited {elapsed:.2f}s behind the hanging one's backlog"


def test_a_burst_to_one_channel_is_sent_without_waiting_for_the_next_pass(transactional_db, receiver, make_channel, make_task):
    hook = receiver()
    make_channel(target=hook.url)
    for _ in range(5):
        raise_alert(event="job_failed", task=make_task())
    elapsed = seconds_until(hook, 5, threads=1, interval=60)  # one pass a minute
    assert len(hook.requests) == 5 and elapsed < 5
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.django_db
def test_run_alerts_once_sends_what_is_due(receiver, make_channel, make_task, capsys):
    from django.core.management import call_command

    hook = receiver()
    make_channel(target=hook.url)
    raise_alert(event="job_failed", task=make_task())
    call_command("run_alerts", "--once")
    assert len(hook.requests) == 1
    assert "1 attempted, 1 sent" in capsys.readouterr().out


def test_the_worker_is_embedded_in_the_server_unless_switched_off(settings, monkeypatch):
    import sys

    from rpa_workbench import embedded

    monkeypatch.delitem(sys.modules, "pytest")
    settings.RPA_EMBEDDED_ALERTS = False
    assert embedded.should_start("RPA_EMBEDDED_ALERTS") is False
    settings.RPA_EMBEDDED_ALERTS = True
    assert embedded.should_start("RPA_EMBEDDED_ALERTS") is True
    assert embedded.loops()["rpa-alerts"] == ("RPA_EMBEDDED_ALERTS", "alerts.worker.run_forever")


@pytest.mark.django_db
def test_run_once_sends_every_due_delivery_of_a_channel(receiver, make_channel, make_task):
    hook = receiver()
    make_channel(target=hook.url)
    for _ in range(3):
        raise_alert(event="job_failed", task=make_task())
    assert worker.run_once() == [DeliveryStatus.SENT] * 3 and len(hook.requests) == 3
