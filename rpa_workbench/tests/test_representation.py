"""A list page's rows are written by a precomputed plan (rpa_workbench/representation.py), with
exactly the JSON DRF writes: the same keys, in the same order, with the same values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from accounts import presence
from accounts.models import Account
from accounts.serializers import AccountSerializer
from accounts.views import TASK_COUNT
from executionlogs.models import ExecutionLog
from executionlogs.serializers import ExecutionLogSerializer
from jobs import queue
from jobs.models import Job
from jobs.serializers import JobSerializer
from jobs.tests.conftest import build_job
from rpa_workbench.renderers import FiniteJSONRenderer
from rpa_workbench.representation import ListedFast, iso_datetime, plan_for
from rpa_workbench.testing import factories
from tasks.models import Task
from tasks.serializers import TaskSerializer

ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/St_Johns"]
MOMENT = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)  # a second before Berlin's DST


def as_json(data) -> bytes:
    return FiniteJSONRenderer().render(data)


def listed_and_single(serializer_class, rows, context=None) -> tuple[bytes, bytes]:
    """The rows written as a list (the plan) and one by one (DRF's own representation)."""
    listed = serializer_class(rows, many=True, context=context or {}).data
    single = [serializer_class(row, context=context or {}).data for row in rows]
    return as_json(listed), as_json(single)


def varied_accounts() -> list[Account]:
    now = presence.clock()
    busy = factories.make_account(shadow_bot_account="繁忙-bot ü", host_ip="fe80::1", port=1, last_seen_at=now)
    task = factories.make_task(account=busy)
    build_job(task, status="running")
    factories.make_task(account=busy)
    factories.make_account(
        shadow_bot_account="online", port=65535, recent_app="", status="running", last_seen_at=now,
        last_heartbeat_at=MOMENT, end_time=MOMENT.replace(microsecond=0), max_concurrent_jobs=3,
        dispatch_backend="yingdao", yingdao_account_name="名前 \"quoted\" \\ /",
    )
    factories.make_account(
        shadow_bot_account="offline", recent_app="报表 app\n", last_seen_at=now - timedelta(days=9),
        idle_heartbeat_at=now - timedelta(days=9),
    )
    factories.make_account(shadow_bot_account="never seen", end_time=datetime(1970, 1, 1, tzinfo=UTC))
    rows = presence.with_presence(Account.objects.annotate(task_count=TASK_COUNT).order_by("-created_at"))
    return list(rows)


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ZONES)
def test_account_rows_are_written_as_drf_writes_them(zone):
    rows = varied_accounts()
    assert {row.presence for row in rows} == {"busy", "online", "offline", "unknown"}
    with timezone.override(ZoneInfo(zone)):
        listed, single = listed_and_single(AccountSerializer, rows)
    assert listed == single


@pytest.mark.django_db
def test_an_account_without_the_annotations_gets_the_fields_defaults_as_in_drf():
    factories.make_account(shadow_bot_account="bare")
    listed, single = listed_and_single(AccountSerializer, list(Account.objects.all()))
    assert listed == single
    assert b'"task_count":0' in listed and b'"presence":"unknown"' in listed


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_task_rows_are_written_as_drf_writes_them(zone):
    account = factories.make_account(shadow_bot_account="机器人", host_ip="::1", port=9000)
    factories.make_task(
        account=account, task_name="日报 ✓", config_json='{"a": [1, "二"]}', remark="line\nbreak",
        config_file_path="javascript:alert(1)", schedule="0 9 * * *", schedule_timezone="Asia/Tokyo",
        trigger_time=MOMENT + timedelta(days=400), next_run_at=MOMENT, last_run_time=MOMENT, status="running",
        priority="high", run_timeout_seconds=None, yingdao_robot_uuid="",
    )
    factories.make_task(account=account, config_file_path="https://example.com/a b.json", config_file=True)
    rows = list(Task.objects.select_related("account").order_by("-created_at"))
    with timezone.override(ZoneInfo(zone)):
        listed, single = listed_and_single(TaskSerializer, rows)
    assert listed == single


def varied_logs() -> list[ExecutionLog]:
    account = factories.make_account()
    task = factories.make_task(account=account)
    factories.make_log(
        task=task, account=account, duration=0.1, result_summary={"行": [1, 2.5, None, {"ok": True}]},
        screenshot_path="shots/a.png", log_content="https://example.com/log.txt", execution_id="exec-1",
    )
    bare = factories.make_log(
        host_ip=None, screenshot_path="javascript:x", log_content="", result_summary=None, text="",
    )
    ExecutionLog.objects.filter(pk=bare.pk).update(duration=None, end_time=None)
    return list(ExecutionLog.objects.order_by("-start_time"))


@pytest.mark.django_db
def test_execution_log_rows_are_written_as_drf_writes_them():
    listed, single = listed_and_single(ExecutionLogSerializer, varied_logs())
    assert listed == single
    assert b'"duration":null' in listed and b'"screenshot_path":null' in listed


@pytest.mark.django_db
def test_job_rows_are_written_as_drf_writes_them():
    user = get_user_model().objects.create_user(username="опер", password="pw-x")
    task = factories.make_task(account=factories.make_account())
    first = build_job(task, requested_by=user, not_before=MOMENT)
    build_job(task, retry_of=first, reason=None, priority="high")
    build_job(task, status="failed", reason="timeout", started_at=MOMENT, finished_at=MOMENT + timedelta(hours=1))
    rows = list(Job.objects.select_related("requested_by").order_by("-created_at", "-pk"))
    listed, single = listed_and_single(JobSerializer, rows, {"positions": queue.positions(rows)})
    assert listed == single
    assert as_json(JobSerializer(rows, many=True).data) == single  # positions asked one by one


@pytest.mark.django_db
def test_list_rows_never_fall_back_to_drf(monkeypatch):
    """The four list serializers are fully planned: DRF's per-field path is not needed."""
    varied_accounts()
    varied_logs()
    cases = [
        (AccountSerializer, presence.with_presence(Account.objects.annotate(task_count=TASK_COUNT))),
        (TaskSerializer, Task.objects.select_related("account")),
        (ExecutionLogSerializer, ExecutionLog.objects.all()),
        (JobSerializer, Job.objects.select_related("requested_by")),
    ]

    def refuse(self, instance):
        raise AssertionError(f"{type(self).__name__} fell back to DRF")

    monkeypatch.setattr(serializers.Serializer, "to_representation", refuse)
    for serializer_class, rows in cases:
        assert plan_for(serializer_class) is not None
        assert serializer_class(list(rows), many=True).data


class ContextField(serializers.CharField):
    """A field whose output depends on the request: the plan cannot write it."""

    def to_representation(self, value):
        return f"{self.context['prefix']}{value}"


class ContextReadingSerializer(ListedFast, serializers.ModelSerializer):
    shadow_bot_account = ContextField()

    class Meta:
        model = Account
        fields = ["id", "shadow_bot_account"]


class NestedSerializer(ListedFast, serializers.ModelSerializer):
    account = ContextReadingSerializer()

    class Meta:
        model = Task
        fields = ["id", "account"]


class PerRequestFieldsSerializer(ListedFast, serializers.ModelSerializer):
    """Chooses its fields when it is made (here: from the context), so it has no plan."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.context.get("full"):
            self.fields.pop("port")

    class Meta:
        model = Account
        fields = ["id", "port"]


@pytest.mark.django_db
def test_a_serializer_choosing_its_fields_when_made_has_no_plan():
    factories.make_account()
    assert plan_for(PerRequestFieldsSerializer) is None
    listed, single = listed_and_single(PerRequestFieldsSerializer, list(Account.objects.all()), {"full": True})
    assert listed == single and b'"port":8000' in listed


@pytest.mark.django_db
def test_a_field_reading_its_context_is_written_by_drf_with_the_real_context():
    factories.make_account(shadow_bot_account="ctx")
    listed, single = listed_and_single(ContextReadingSerializer, list(Account.objects.all()), {"prefix": "p:"})
    assert listed == single and b'"p:ctx"' in listed


@pytest.mark.django_db
def test_a_nested_serializer_has_no_plan_and_is_written_by_drf():
    factories.make_task(account=factories.make_account(shadow_bot_account="nested"))
    assert plan_for(NestedSerializer) is None
    listed, single = listed_and_single(NestedSerializer, list(Task.objects.all()), {"prefix": "n:"})
    assert listed == single and b'"n:nested"' in listed


@pytest.mark.parametrize("zone", [*ZONES, "Pacific/Chatham", "Asia/Kolkata"])
@pytest.mark.parametrize(
    "moment",
    [
        MOMENT,
        MOMENT + timedelta(microseconds=1),  # Berlin's DST begins
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Berlin's repeated hour
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, 59, 123456, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
    ],
)
def test_iso_datetime_is_drfs_datetime_text(zone, moment):
    with timezone.override(ZoneInfo(zone)):
        assert iso_datetime(moment, ZoneInfo(zone)) == serializers.DateTimeField().to_representation(moment)


def test_iso_datetime_leaves_naive_values_to_drf():
    assert iso_datetime(datetime(2026, 1, 1), ZoneInfo("UTC")) is None
    assert iso_datetime(MOMENT, None) is None
