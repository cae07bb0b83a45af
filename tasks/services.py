"""The task state machine (API.md §2): every start, stop, force-stop and robot confirmation goes
through these functions, whoever calls (API, admin, scheduler, intranet proxy, webhooks).

Rules kept here:
- start/stop never change `status` themselves; the robot confirms through `confirm()`.
- A start is claimed atomically in the database (a conditional UPDATE on `start_requested_at`)
  before the relay is called, so two concurrent starts send one request. No transaction is ever
  held open across the HTTP call: callers must not wrap these functions in `transaction.atomic`.
- Every control request leaves a `ControlRequest` row, refused ones included (outcome `skipped`).
- Events are published after commit through `rpa_workbench.events`.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone
from rest_framework import status as http

from accounts.models import Account
from accounts.services import TRACKED_FIELDS as ACCOUNT_TRACKED_FIELDS
from alerts import sources as alert_sources
from rpa_workbench import events
from rpa_workbench.errors import ApiError, Conflict
from tasks import relay
from tasks.models import ControlAction, ControlOutcome, ControlRequest, ControlSource, Task, TaskStatus

logger = logging.getLogger(__name__)

TASK_TRACKED_FIELDS = (
    "task_name",
    "account_id",
    "app_name",
    "status",
    "last_run_time",
    "config_file",
    "config_info",
    "config_file_path",
    "config_json",
    "trigger_time",
    "remark",
    "schedule",
    "schedule_timezone",
    "next_run_at",
)

CONFIRM_ACTIONS = ("START", "STOP")
NOT_CONFIGURED_MESSAGE = "relay not configured: set RPA_RELAY_URL to control robots"


# -- audit trail ---------------------------------------------------------------------------
def _new_request(
    *,
    task: Task | None,
    action: str,
    target: str,
    source: str,
    user=None,
    outcome: str = ControlOutcome.PENDING,
    error: str = "",
    shadow_bot_account: str = "",
    host_ip: str = "",
    port: int | None = None,
    app_name: str = "",
) -> ControlRequest:
    if task is not None:
        account = task.account
        shadow_bot_account, host_ip, port, app_name = (
            account.shadow_bot_account,
            account.host_ip,
            account.port,
            task.app_name,
        )
    return ControlRequest.objects.create(
        task=task,
        shadow_bot_account=shadow_bot_account,
        host_ip=host_ip,
        port=port,
        app_name=app_name,
        action=action,
        target=target,
        source=source,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        outcome=outcome,
        error=error,
    )


def _send_and_record(request: ControlRequest) -> relay.RelayError | None:
    """Send `request` through the relay and store the outcome on it; returns the error, if any."""
    try:
        result = relay.send(
            backend_ip=request.host_ip,
            backend_port=request.port,
            app_name=request.app_name,
            target=request.target,
        )
    except Exception as exc:
        if not isinstance(exc, relay.RelayError):
            # Never leave a request pending (and a START claim held) because of an unexpected error.
            logger.exception("control request %s: unexpected error while calling the relay", request.pk)
            exc = relay.RelayError(
                f"relay request failed: unexpected {type(exc).__name__} (see the server log)"
            )
        logger.warning(
            "control request %s (%s %s) failed: %s", request.pk, request.action, request.app_name, exc.reason
        )
        request.outcome = ControlOutcome.FAILED
        request.error = exc.reason
        request.relay_url = exc.url
        request.response_status = exc.status
        request.latency_ms = exc.latency_ms
        request.save(update_fields=["outcome", "error", "relay_url", "response_status", "latency_ms"])
        return exc
    request.outcome = ControlOutcome.SENT
    request.relay_url = result.url
    request.response_status = result.status
    request.latency_ms = result.latency_ms
    request.save(update_fields=["outcome", "relay_url", "response_status", "latency_ms"])
    return None


def _failed(exc: relay.RelayError, request: ControlRequest) -> ApiError:
    if not exc.configured:
        return ApiError(http.HTTP_503_SERVICE_UNAVAILABLE, "RELAY_NOT_CONFIGURED", NOT_CONFIGURED_MESSAGE)
    return ApiError(
        http.HTTP_502_BAD_GATEWAY,
        "CONTROL_REQUEST_FAILED",
        f"control request failed: {exc.reason}",
        control_request_id=str(request.pk),
    )


@dataclass(frozen=True)
class _Ask:
    """One control request being decided: who asks what of which task."""

    task: Task
    action: str
    target: str
    source: str
    user: Any

    def record(self, **fields: Any) -> ControlRequest:
        fields.setdefault("task", self.task)
        return _new_request(
            action=self.action, target=self.target, source=self.source, user=self.user, **fields
        )

    def refuse(self, code: str, message: str, status_code: int = http.HTTP_409_CONFLICT) -> NoReturn:
        """Record the refused request (outcome `skipped`) and raise its error."""
        self.record(outcome=ControlOutcome.SKIPPED, error=f"{code}: {message}")
        if status_code == http.HTTP_409_CONFLICT:
            raise Conflict(code, message)
        raise ApiError(status_code, code, message)

    def require_relay(self) -> None:
        if not relay.is_configured():
            self.refuse("RELAY_NOT_CONFIGURED", NOT_CONFIGURED_MESSAGE, http.HTTP_503_SERVICE_UNAVAILABLE)

    def refuse_not_running(self) -> NoReturn:
        self.refuse("TASK_NOT_RUNNING", f"task {self.task.task_name} is not running")


def _fresh(task: Task) -> Task:
    try:
        return Task.objects.select_related("account").get(pk=task.pk)
    except Task.DoesNotExist:
        raise ApiError(http.HTTP_404_NOT_FOUND, "NOT_FOUND", "task not found") from None


def _sync(task: Task, fresh: Task) -> None:
    """Copy the database state back into the caller's instance."""
    for name in ("status", "start_requested_at", "last_run_time", "last_seen_at", "updated_at"):
        setattr(task, name, getattr(fresh, name))


# -- control --------------------------------------------------------------------------------
def start_task(*, task: Task, source: str, user=None) -> ControlRequest:
    """Send START. 409 TASK_ALREADY_RUNNING / START_PENDING, 502 on relay failure (claim released),
    503 when no relay is configured. The status stays `pending` until the robot confirms."""
    task = _fresh_into(task)
    ask = _Ask(task, ControlAction.START, relay.START, source, user)
    ask.require_relay()
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.RPA_START_PENDING_SECONDS)
    claimed = (
        Task.objects.filter(pk=task.pk, status=TaskStatus.PENDING)
        .filter(Q(start_requested_at__isnull=True) | Q(start_requested_at__lte=window_start))
        .update(start_requested_at=now)
    )
    if not claimed:
        current = _fresh(task)
        if current.status == TaskStatus.RUNNING:
            ask.refuse("TASK_ALREADY_RUNNING", f"task {task.task_name} is already running")
        ask.refuse(
            "START_PENDING", f"task {task.task_name} was started recently and the robot has not confirmed yet"
        )
    task.start_requested_at = now
    request = ask.record()
    error = _send_and_record(request)
    if error is not None:
        # Release only our own claim, so the next start is not refused for a request that never went out.
        Task.objects.filter(pk=task.pk, start_requested_at=now).update(start_requested_at=None)
        task.start_requested_at = None
        if error.configured:
            alert_sources.dispatch_failed(task, request, error.reason)
        raise _failed(error, request)
    return request


def stop_task(*, task: Task, source: str, user=None) -> ControlRequest:
    """Send stop (`target=ALL`). 409 TASK_NOT_RUNNING, 502 on relay failure; status unchanged."""
    task = _fresh_into(task)
    ask = _Ask(task, ControlAction.STOP, relay.STOP, source, user)
    ask.require_relay()
    if task.status != TaskStatus.RUNNING:
        ask.refuse_not_running()
    request = ask.record()
    error = _send_and_record(request)
    if error is not None:
        raise _failed(error, request)
    return request


def force_stop_task(*, task: Task, source: str, user=None) -> ControlRequest:
    """Mark task and account `pending` at once (one transaction), then try to send the stop.

    The stop is sent after commit; its failure (or a missing relay) is recorded on the returned
    `ControlRequest` and otherwise ignored: the operator asked not to wait for the robot.
    """
    task = _fresh_into(task)
    ask = _Ask(task, ControlAction.FORCE_STOP, relay.STOP, source, user)
    if task.status != TaskStatus.RUNNING:
        ask.refuse_not_running()
    with transaction.atomic():
        locked = Task.objects.select_for_update().select_related("account").get(pk=task.pk)
        # Checked again under the lock: a confirm or another force-stop may have come first.
        request = _mark_pending(locked, ask) if locked.status == TaskStatus.RUNNING else None
    _sync(task, locked)
    task.account = locked.account
    if request is None:
        ask.refuse_not_running()
    _send_and_record(request)
    return request


def _mark_pending(locked: Task, ask: _Ask) -> ControlRequest:
    """Inside the caller's transaction: task and account → pending, the request recorded."""
    account = Account.objects.select_for_update().get(pk=locked.account_id)
    task_before = events.snapshot(locked, TASK_TRACKED_FIELDS)
    account_before = events.snapshot(account, ACCOUNT_TRACKED_FIELDS)
    locked.status = TaskStatus.PENDING
    locked.start_requested_at = None
    locked.save(update_fields=["status", "start_requested_at", "updated_at"])
    account.mark_pending()
    account.save(update_fields=["status", "updated_at"])
    locked.account = account
    request = ask.record(task=locked)
    with events.batch():
        events.publish_task_updated(locked, events.changed(task_before, locked))
        events.publish_account_updated(account, events.changed(account_before, account))
    return request


def _fresh_into(task: Task) -> Task:
    """Read the task's current state (the caller's instance may be stale) into the same object."""
    fresh = _fresh(task)
    _sync(task, fresh)
    task.account = fresh.account
    return task


# -- robot side -----------------------------------------------------------------------------
def confirm(
    *, shadow_bot_account: str, app_name: str, action: str, host_ip: str | None = None
) -> Task | None:
    """The robot confirms it acted: START → task and account `running` (last_run_time = now);
    STOP → both `pending`. Returns the task, or None when nothing matches."""
    if action not in CONFIRM_ACTIONS:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "action: must be START or STOP")
    match = Task.objects.match_robot(shadow_bot_account, app_name, host_ip or None)
    if match is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=match.pk)
        account = Account.objects.select_for_update().get(pk=task.account_id)
        task.account = account
        task_before = events.snapshot(task, TASK_TRACKED_FIELDS)
        account_before = events.snapshot(account, ACCOUNT_TRACKED_FIELDS)
        if action == "START":
            task.status = TaskStatus.RUNNING
            task.last_run_time = now
            account.mark_running(task.app_name)
            actions = [ControlAction.START]
        else:
            task.status = TaskStatus.PENDING
            account.mark_pending()
            actions = [ControlAction.STOP, ControlAction.FORCE_STOP]
        task.last_seen_at = now
        task.start_requested_at = None
        task.save(
            update_fields=["status", "last_run_time", "last_seen_at", "start_requested_at", "updated_at"]
        )
        account.save(update_fields=["status", "recent_app", "updated_at"])
        latest = (
            ControlRequest.objects.filter(
                task=task,
                action__in=actions,
                confirmed_at__isnull=True,
                outcome__in=[ControlOutcome.PENDING, ControlOutcome.SENT],
            )
            .order_by("-created_at")
            .first()
        )
        if latest is not None:
            latest.confirmed_at = now
            latest.save(update_fields=["confirmed_at"])
        with events.batch():
            events.publish_task_updated(task, events.changed(task_before, task))
            events.publish_account_updated(account, events.changed(account_before, account))
    return task


def record_heartbeat(*, shadow_bot_account: str, app_name: str, host_ip: str | None = None) -> Account | None:
    """A sign of life: account → `running`, `recent_app` = app, `last_heartbeat_at` = now (and the
    matching task's `last_seen_at`). Returns None when no account has that name (and host)."""
    task = Task.objects.match_robot(shadow_bot_account, app_name, host_ip or None) if app_name else None
    if task is not None:
        account_id = task.account_id
    else:
        candidates = Account.objects.filter(shadow_bot_account=shadow_bot_account)
        if host_ip:
            candidates = candidates.filter(host_ip=host_ip)
        account_id = (
            # Never-heard accounts last on every database (PostgreSQL sorts NULLs first when descending).
            candidates.order_by(F("last_heartbeat_at").desc(nulls_last=True), "created_at")
            .values_list("pk", flat=True)
            .first()
        )
        if account_id is None:
            return None
    tracked = (*ACCOUNT_TRACKED_FIELDS, "last_heartbeat_at")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        before = events.snapshot(account, tracked)
        account.record_heartbeat(app_name or None)
        account.save(update_fields=["status", "recent_app", "last_heartbeat_at", "updated_at"])
        if task is not None:
            Task.objects.filter(pk=task.pk).update(last_seen_at=account.last_heartbeat_at)
        events.publish_account_updated(account, events.changed(before, account))
    return account


# -- raw relay access (intranet proxy endpoint) ---------------------------------------------
def send_raw_control(
    *,
    backend_ip: str,
    backend_port: int | str,
    app_name: str,
    target: str,
    source: str = ControlSource.INTRANET,
    user=None,
) -> ControlRequest:
    """Send a raw control request as given (no state checks), recorded like every other one and
    linked to the task on that host/app when there is one. 400 on bad input, 502 on relay failure
    (the error carries `url` and `success: false` for the intranet endpoint's body)."""
    if target not in relay.TARGETS:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "target: must be START or ALL")
    if not app_name:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "tak: this field is required")
    if not backend_ip:
        raise ApiError(http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "backend_ip: this field is required")
    if not _valid_ip(backend_ip):
        # The relay connects to backend_ip: a host name or garbage is refused, not passed on.
        raise ApiError(
            http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "backend_ip: must be an IPv4 or IPv6 address"
        )
    try:
        port = int(str(backend_port).strip())
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise ApiError(
            http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", "backend_port: must be between 1 and 65535"
        )
    task = (
        # Accounts store IPs normalized (GenericIPAddressField): "FD00::0010" is the host fd00::10.
        Task.objects.filter(account__host_ip=str(ipaddress.ip_address(backend_ip)), app_name__iexact=app_name)
        .select_related("account")
        .order_by(
            # the account on that exact port first
            Case(When(account__port=port, then=0), default=1),
            "created_at",
        )
        .first()
    )
    action = ControlAction.START if target == relay.START else ControlAction.STOP
    configured = relay.is_configured()
    request = _new_request(
        task=None,
        action=action,
        target=target,
        source=source,
        user=user,
        shadow_bot_account=task.account.shadow_bot_account if task else "",
        host_ip=backend_ip,
        port=port,
        app_name=app_name,
        outcome=ControlOutcome.PENDING if configured else ControlOutcome.SKIPPED,
        error="" if configured else f"RELAY_NOT_CONFIGURED: {NOT_CONFIGURED_MESSAGE}",
    )
    if task is not None:
        request.task = task
        request.save(update_fields=["task"])
    if not configured:
        raise ApiError(
            http.HTTP_503_SERVICE_UNAVAILABLE, "RELAY_NOT_CONFIGURED", NOT_CONFIGURED_MESSAGE, success=False
        )
    error = _send_and_record(request)
    if error is not None:
        raise ApiError(
            http.HTTP_502_BAD_GATEWAY,
            "CONTROL_REQUEST_FAILED",
            f"control request failed: {error.reason}",
            success=False,
            url=request.relay_url,
            control_request_id=str(request.pk),
        )
    return request


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def control_response(task: Task, request: ControlRequest) -> dict[str, Any]:
    """The §2 control response body for a request that went out (or a force-stop)."""
    messages = {
        ControlAction.START: "start request sent, waiting for robot confirmation",
        ControlAction.STOP: "stop request sent, waiting for robot confirmation",
    }
    if request.action == ControlAction.FORCE_STOP:
        message = "task force-stopped" + (
            "; stop request sent to the robot"
            if request.outcome == ControlOutcome.SENT
            else f"; the stop request to the robot failed ({request.error})"
        )
    else:
        message = messages[request.action]
    return {"success": True, "message": message, "task_id": str(task.pk), "status": task.status}
