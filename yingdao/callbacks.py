"""Reading what Yingdao POSTs to our callbackUrl, and the job answers of job/query.

Two body shapes (YINGDAO_OPENAPI.md "Callbacks"): `dataType: job` (one app run) and
`dataType: task` (a scheduled task with a `jobList`). Times come as local date-times in
`RPA_ROBOT_TIMEZONE` or as epoch milliseconds. Each becomes one or more `JobReport`s: what one
job's status is according to Yingdao, mapped onto our job statuses. An unknown status maps to
None: kept raw for display, changing nothing.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

# Yingdao's job status → our job status (jobs app). Anything else: still in progress, raw kept.
STATUS_MAP: dict[str, str] = {
    "created": "dispatched",
    "waiting": "dispatched",
    "running": "running",
    "finish": "completed",
    "error": "failed",
    "stopped": "stopped",
}
FINAL_STATUSES = frozenset({"completed", "failed", "stopped"})
# Epoch values below this are seconds, above it milliseconds (1e11 s is the year 5138).
EPOCH_MS_THRESHOLD = 10**11
# A scheduled task's callback lists its apps' runs: more than this is no Yingdao task (400).
MAX_JOB_LIST = 100
# What a stored (pending) entry may keep of a run's output params; larger ones are left to the
# job/query made when the job ends (`yingdao.updates.with_details`).
MAX_STORED_OUTPUTS_BYTES = 16 * 1024


class CallbackError(ValueError):
    """The body is not a Yingdao callback we can read (answered 400, naming the problem)."""


@dataclass(frozen=True)
class JobReport:
    """One job's state according to Yingdao."""

    job_uuid: str
    raw_status: str
    status: str | None  # our job status, or None when the raw one is unknown
    start_time: datetime | None = None
    end_time: datetime | None = None
    robot_name: str = ""
    robot_client_name: str = ""
    screenshot_url: str = ""
    remark: str = ""
    outputs: list[dict[str, Any]] | None = None
    idempotent_uuid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def as_entry(self) -> dict[str, Any]:
        """This job's own entry, job-shaped (what `parse_callback` reads back as this report),
        built from the bounded values read here: what a pending callback stores — never the
        whole body it came in, nor its unknown keys."""
        entry: dict[str, Any] = {
            "dataType": "job",
            "jobUuid": self.job_uuid,
            "status": self.raw_status,
            "startTime": self.start_time.isoformat() if self.start_time else None,
            "endTime": self.end_time.isoformat() if self.end_time else None,
            "robotName": self.robot_name,
            "robotClientName": self.robot_client_name,
            "screenshotUrl": self.screenshot_url,
            "remark": self.remark,
            "idempotentUuid": self.idempotent_uuid,
        }
        if self.outputs is not None:
            size = len(json.dumps(self.outputs, ensure_ascii=False, default=str))
            if size <= MAX_STORED_OUTPUTS_BYTES:
                entry["robotParams"] = {"outputs": self.outputs}
        return entry


def map_status(raw: Any) -> str | None:
    return STATUS_MAP.get(str(raw or "").strip().lower())


def parse_time(value: Any, *, name: str = "time") -> datetime | None:
    """An aware datetime from epoch ms (or s), `YYYY-MM-DD HH:MM:SS` (robots' zone) or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CallbackError(f"{name}: not a time ({_shown(value)})")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        if len(value.strip()) > 20:  # no epoch has that many digits (and int() of 4,300+ raises)
            raise CallbackError(f"{name}: epoch value out of range ({_shown(value)})")
        value = int(value.strip())
    if isinstance(value, (int, float)):
        try:
            seconds = value / 1000 if abs(value) >= EPOCH_MS_THRESHOLD else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise CallbackError(f"{name}: epoch value out of range ({_shown(value)})") from None
    if not isinstance(value, str):
        raise CallbackError(f"{name}: not a time ({_shown(value)})")
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise CallbackError(f"{name}: expected 'YYYY-MM-DD HH:MM:SS' or epoch milliseconds, got {_shown(value)}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(settings.RPA_ROBOT_TIMEZONE))
    return parsed


def _shown(value: Any) -> str:
    """A value as named in an error: its repr, cut short (the answer never echoes a big body)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _text(value: Any, limit: int = 1000) -> str:
    return "" if value is None else str(value)[:limit]


def _outputs(item: dict[str, Any]) -> list[dict[str, Any]] | None:
    params = item.get("robotParams")
    outputs = params.get("outputs") if isinstance(params, dict) else item.get("outputs")
    if isinstance(outputs, str):
        try:
            outputs = json.loads(outputs)
        except ValueError:
            return None
    if isinstance(outputs, list):
        return [entry for entry in outputs if isinstance(entry, dict)]
    return None


def report_of(item: dict[str, Any], *, job_uuid: str | None = None) -> JobReport:
    """One job's report from a job-shaped callback, a `jobList` entry or a job/query answer."""
    uuid = _text(job_uuid or item.get("jobUuid"), 64).strip()
    if not uuid:
        raise CallbackError("jobUuid: required")
    raw = _text(item.get("status") or item.get("jobStatus"), 64).strip()
    known = {
        "jobUuid", "status", "jobStatus", "startTime", "endTime", "robotName", "robotClientName",
        "screenshotUrl", "remark", "robotParams", "outputs", "idempotentUuid", "dataType",
    }  # fmt: skip
    return JobReport(
        job_uuid=uuid,
        raw_status=raw,
        status=map_status(raw),
        start_time=parse_time(item.get("startTime"), name="startTime"),
        end_time=parse_time(item.get("endTime"), name="endTime"),
        robot_name=_text(item.get("robotName"), 200),
        robot_client_name=_text(item.get("robotClientName"), 200),
        screenshot_url=_text(item.get("screenshotUrl"), 1000),
        remark=_text(item.get("remark") or item.get("statusName"), 1000),
        outputs=_outputs(item),
        idempotent_uuid=_text(item.get("idempotentUuid"), 64),
        extra={key: value for key, value in item.items() if key not in known},
    )


def parse_callback(body: Any) -> list[JobReport]:
    """Every job report in one callback body (`dataType` job or task)."""
    if not isinstance(body, dict):
        raise CallbackError("body: expected a JSON object")
    data_type = str(body.get("dataType") or ("task" if "jobList" in body else "job")).strip().lower()
    if data_type == "job":
        return [report_of(body)]
    if data_type != "task":
        raise CallbackError(f"dataType: expected job or task, got {_shown(body.get('dataType'))}")
    job_list = body.get("jobList") or []
    if not isinstance(job_list, list):
        raise CallbackError("jobList: expected a list")
    if len(job_list) > MAX_JOB_LIST:
        raise CallbackError(f"jobList: at most {MAX_JOB_LIST} entries, got {len(job_list)}")
    reports = [report_of(item) for item in job_list if isinstance(item, dict) and item.get("jobUuid")]
    if not reports and body.get("taskUuid"):
        # A task without per-job ids: the task's own status, under its uuid.
        reports = [report_of(body, job_uuid=str(body["taskUuid"]))]
    return reports


def summarise_outputs(outputs: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The app's output params as `result_summary`: `{name: value}`, plus the usual counters
    when the app names them (total_items, success_items, failed_items, error_message)."""
    if not outputs:
        return None
    values = {str(entry.get("name")): entry.get("value") for entry in outputs if entry.get("name") is not None}
    return values or None
