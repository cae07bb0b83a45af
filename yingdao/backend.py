"""The Yingdao Open API backend (API.md §9.3): a thin adapter over `yingdao.client`.

- start → `job/start` with robotUuid = the task's `yingdao_robot_uuid`, accountName = the
  account's `yingdao_account_name`, idempotentUuid = our job id (a repeat never starts a second
  run, so a start that timed out is asked again once), priority high/middle/low, runTimeout,
  waitTimeoutSeconds, params from a flat `config_json`, and callbackUrl = RPA_PUBLIC_URL +
  /api/v1/webhook/yingdao?token=<webhook secret>. The returned jobUuid is the outcome's
  `external_id`: the outbox's sender stores it and calls `jobs.outbox.STARTED_HOOKS` (the yingdao
  app applies the callbacks that raced the answer). This adapter translates; it writes nothing.
- stop → `job/stop`; query → `job/query` (a `JobReport`).
- A pool job waiting for any robot of a pool with a Yingdao group → `job/start` with
  `robotClientGroupUuid` and `executeScope: "any"` instead of `accountName`; the callback's
  `robotClientName` then says which robot ran it (yingdao.updates).
- Not configured (no access key, public URL or webhook secret) → `BackendNotConfigured`, naming
  the variables to set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from urllib.parse import urlencode

from django.conf import settings

from jobs.backends import BackendNotConfigured, DispatchOutcome, ensure_outside_transaction
from yingdao import client as yingdao_client
from yingdao import params as yingdao_params
from yingdao.callbacks import JobReport, report_of
from yingdao.client import YingdaoError

logger = logging.getLogger(__name__)

PRIORITY = {"high": "high", "normal": "middle", "low": "low"}
# Yingdao accepts runTimeout within these bounds (seconds).
RUN_TIMEOUT_RANGE = (60, 950500)
CALLBACK_PATH = "/api/v1/webhook/yingdao"
SCALARS = (str, int, float, bool, type(None))
PARAM_TYPES = {bool: "bool", int: "int", float: "float"}


def missing_settings() -> list[str]:
    missing = yingdao_client.missing_settings()
    missing += [name for name in ("RPA_PUBLIC_URL", "RPA_WEBHOOK_TOKEN") if not getattr(settings, name)]
    return missing


def not_configured_message() -> str:
    return "Yingdao backend not configured: set " + ", ".join(missing_settings())


def callback_url() -> str:
    return settings.RPA_PUBLIC_URL + CALLBACK_PATH + "?" + urlencode({"token": settings.RPA_WEBHOOK_TOKEN})


def masked_callback_url() -> str:
    return settings.RPA_PUBLIC_URL + CALLBACK_PATH + "?token=***"


def params_of(config_json: str | None) -> list[dict] | None:
    """App inputs from the task's config_json when it is a flat JSON object, else None."""
    if not config_json:
        return None
    try:
        config = json.loads(config_json)
    except ValueError:
        return None
    if not isinstance(config, dict) or not all(isinstance(value, SCALARS) for value in config.values()):
        return None
    return [
        {"name": str(name), "value": value, "type": PARAM_TYPES.get(type(value), "str")}
        for name, value in config.items()
    ]


def group_of(job) -> str:
    """The Yingdao robot group a pool job is started on (API.md §12): a job waiting for any robot
    of a pool with `yingdao_group_uuid` goes to the group (`executeScope: any`), Yingdao picking
    the robot; "" for a start on the job's own robot."""
    pool = job.pool if job.pool_id and job.any_robot else None
    return pool.yingdao_group_uuid if pool is not None else ""


def start_body(job) -> dict:
    task, account = job.task, job.account
    run_timeout = min(max(int(job.run_timeout_seconds), RUN_TIMEOUT_RANGE[0]), RUN_TIMEOUT_RANGE[1])
    group = group_of(job)
    robot = {"robotClientGroupUuid": group, "executeScope": "any"} if group else {"accountName": account.yingdao_account_name}
    body = {
        "robotUuid": task.yingdao_robot_uuid,
        **robot,
        "idempotentUuid": str(job.pk),
        "priority": PRIORITY.get(job.priority, "middle"),
        "runTimeout": run_timeout,
        "enableWaitTimeout": True,
        "waitTimeoutSeconds": int(job.wait_timeout_seconds),
        "callbackUrl": callback_url(),
    }
    params = params_of(task.config_json)
    if params:
        body["params"] = params
    return body


def _failed(action: str, exc: YingdaoError) -> DispatchOutcome:
    return DispatchOutcome(
        ok=False,
        message=f"yingdao {action} failed: {exc.message}",
        response_status=exc.http_status,
        error=exc.message,
        latency_ms=exc.latency_ms,
        may_have_reached=exc.may_have_reached,
        url=exc.url,
    )


def _accepted(message: str, job_uuid: str, answer) -> DispatchOutcome:
    return DispatchOutcome(
        ok=True,
        message=message,
        external_id=job_uuid,
        response_status=answer.http_status,
        latency_ms=answer.latency_ms,
        url=answer.url,
    )


class YingdaoBackend:
    name = "yingdao"

    def is_configured(self) -> bool:
        return not missing_settings()

    def not_configured_message(self) -> str:
        return not_configured_message()

    def _require_configured(self) -> None:
        if not self.is_configured():
            raise BackendNotConfigured(self.name, not_configured_message())

    def start(self, job) -> DispatchOutcome:
        ensure_outside_transaction()
        self._require_configured()
        problem = self._missing_names(job)
        if problem:
            return DispatchOutcome(ok=False, message=f"yingdao job/start not sent: {problem}", error=problem)
        api = yingdao_client.client()
        body = start_body(job)
        try:  # io: the job's own inputs (API.md §11), files uploaded first; job/start not sent if that fails
            inputs = yingdao_params.params_for(job, api)
        except YingdaoError as exc:
            return replace(_failed("file/upload", exc), may_have_reached=False)
        if inputs is not None:
            body["params"] = inputs
        try:
            try:
                answer = api.start_job(body)
            except YingdaoError as exc:
                if not exc.may_have_reached:
                    raise
                # It may have started: the same idempotentUuid returns that job, never a second one.
                logger.info("yingdao job/start of job %s: %s; asking again (idempotent)", job.pk, exc.message)
                answer = api.start_job(body)
        except YingdaoError as exc:
            return _failed("job/start", exc)
        job_uuid = str((answer.data or {}).get("jobUuid") or "") if isinstance(answer.data, dict) else ""
        if not job_uuid:
            return DispatchOutcome(ok=False, message="yingdao job/start answered no jobUuid", error="no jobUuid",
                                   response_status=answer.http_status, latency_ms=answer.latency_ms,
                                   may_have_reached=True, url=answer.url)  # fmt: skip
        again = " (already started: idempotent repeat)" if answer.data.get("idempotentFlag") else ""
        return _accepted(f"job/start accepted by Yingdao: job {job_uuid}{again}", job_uuid, answer)

    def stop(self, job) -> DispatchOutcome:
        ensure_outside_transaction()
        self._require_configured()
        if not job.external_id:
            return DispatchOutcome(ok=False, message="yingdao job/stop not sent: no Yingdao job id yet",
                                   error="the job has no Yingdao jobUuid yet (its start has not been answered)")  # fmt: skip
        try:
            answer = yingdao_client.client().stop_job(job.external_id)
        except YingdaoError as exc:
            return _failed("job/stop", exc)
        return _accepted(f"job/stop accepted by Yingdao for job {job.external_id}", job.external_id, answer)

    def query(self, job) -> JobReport:
        """What Yingdao knows of the job now (raises YingdaoError)."""
        ensure_outside_transaction()
        self._require_configured()
        answer = yingdao_client.client().query_job(job.external_id)
        data = answer.data if isinstance(answer.data, dict) else {}
        return report_of(data, job_uuid=job.external_id)

    def list_robots(self) -> list[dict]:
        from yingdao.clients_sync import list_all

        self._require_configured()
        return list_all(yingdao_client.client())

    @staticmethod
    def _missing_names(job) -> str:
        if job.task is None or not job.task.yingdao_robot_uuid:
            return "the task has no yingdao_robot_uuid (the Yingdao app to run)"
        if (job.account is None or not job.account.yingdao_account_name) and not group_of(job):
            return "the account has no yingdao_account_name (the robot's registered Yingdao account)"
        return ""


backend = YingdaoBackend()
