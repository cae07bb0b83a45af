"""The scheduler as a process: the management command and the embedded thread's switches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from rpa_workbench import embedded


@pytest.mark.django_db
def test_run_scheduler_once_starts_due_tasks(make_task, fake_relay, capsys):
    task = make_task(trigger_time=timezone.now() - timedelta(seconds=1))
    call_command("run_scheduler", "--once")
    assert [q["tak"] for q in fake_relay.queries] == [task.app_name]
    assert "started=1" in capsys.readouterr().out


def test_embedded_scheduler_never_starts_under_tests(settings):
    settings.RPA_EMBEDDED_SCHEDULER = True
    assert embedded.should_start() is False
    assert embedded.start() is None


def test_embedded_scheduler_can_be_switched_off(settings, monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "pytest")
    settings.RPA_EMBEDDED_SCHEDULER = False
    assert embedded.should_start() is False
    settings.RPA_EMBEDDED_SCHEDULER = True
    assert embedded.should_start() is True


@pytest.mark.django_db
def test_demo_seed_schedules_tasks_and_is_idempotent(fake_relay):
    from jobs import scheduler
    from tasks.models import Task

    call_command("seed_demo")
    call_command("seed_demo")
    scheduled = Task.objects.exclude(schedule="")
    assert Task.objects.count() == 12 and scheduled.count() == 8  # 2 on the Yingdao backend, 3 queue demo, 1 work queue, 1 pool
    assert Task.objects.filter(account__dispatch_backend="yingdao").exclude(yingdao_robot_uuid="").count() == 2

    scheduler.run_once()  # gives every scheduled task its next slot, within two minutes
    soon = timezone.now() + timedelta(minutes=2, seconds=1)
    # (the queue demo's first slot comes after its one-shot start: test_demo_seed.py)
    others = scheduled.exclude(account__shadow_bot_account="demo_queue_bot")
    assert all(t.next_run_at and t.next_run_at <= soon for t in others)


@pytest.mark.django_db
def test_demo_seed_has_a_robot_whose_three_priorities_are_due_at_once(fake_relay):
    from tasks.models import Task

    call_command("seed_demo")
    queue = Task.objects.filter(account__shadow_bot_account="demo_queue_bot")

    assert sorted(queue.values_list("priority", flat=True)) == ["high", "low", "normal"]
    assert len({(t.trigger_time, t.schedule) for t in queue}) == 1  # all due together, again and again
    assert timezone.now() < queue[0].trigger_time <= timezone.now() + timedelta(minutes=1)
