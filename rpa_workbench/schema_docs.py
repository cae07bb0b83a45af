"""The prose and the hand-written parts of the OpenAPI document (used by `rpa_workbench.schema`):
tags, summaries, shared components, security schemes, and the operations that are not DRF views
(the SSE stream, `/health`)."""

from __future__ import annotations

from typing import Any

TAGS = [
    {"name": "auth", "description": "JWT access and refresh tokens (simplejwt) and the current user."},
    {
        "name": "accounts",
        "description": "Robot accounts: one per robot (`shadow_bot_account` on `host_ip:port`), with "
        "the status of its latest activity and its presence.",
    },
    {
        "name": "tasks",
        "description": "Tasks (an app on a robot account) and their control: start, stop and "
        "force-stop go through the relay; the robot confirms through the webhooks.",
    },
    {"name": "jobs", "description": "Jobs: one run of one task on its robot, queued per robot."},
    {
        "name": "logs",
        "description": "Execution history written by the robots' execution reports; filters, "
        "sorting and a CSV export.",
    },
    {"name": "dashboard", "description": "Aggregates for the dashboard: counts, performance, ranking."},
    {
        "name": "webhooks",
        "description": "Called by robots with the shared webhook secret (`X-Webhook-Token` or "
        "`Authorization: Bearer <secret>`), never with a user's credentials.",
    },
    {
        "name": "resources",
        "description": "Stored files, the allow-listed cloud proxy, the SPA's intranet control "
        "endpoint and task config files.",
    },
    {"name": "alerts", "description": "Alert channels and their delivery log."},
    {
        "name": "pools",
        "description": "Robot pools (§12): a pool task runs on any free robot of its pool.",
    },
    {
        "name": "queues",
        "description": "Work queues: business items (orders, invoices…) robots take one at a time, "
        "retried on technical failure and counted.",
    },
    {
        "name": "events",
        "description": "Server-sent events: every state change, live, with replay by `Last-Event-ID`.",
    },
    {"name": "service", "description": "Health of the service (anonymous)."},
]

# Summaries of the operations that are not a model's standard CRUD (those are derived).
SUMMARIES = {
    "auth_token": "Log in: get an access and a refresh token",
    "auth_token_refresh": "Get a new access token from a refresh token",
    "auth_me": "The current user, role and permissions",
    "tasks_start": "Start a task (START through the relay)",
    "tasks_stop": "Stop a task (target=ALL through the relay)",
    "tasks_force_stop": "Mark a task stopped now, without waiting for the robot",
    "tasks_control_requests": "A task's control requests (audit, newest first)",
    "jobs_create": "Start a task as a new job (queued while its robot is busy)",
    "jobs_cancel": "Cancel a queued job",
    "jobs_stop": "Stop a job (queued: cancelled; ?force=true: stopped at once)",
    "jobs_retry": "Retry a failed, stopped or cancelled job as a new job",
    "logs_export": "Export the matching logs as CSV (every row, streamed)",
    "dashboard_stats": "Counts by status and the success rate",
    "dashboard_performance": "Executions per day or month in a time zone",
    "dashboard_execution_rank": "Apps ranked by total run time over 7 days",
    "webhook_confirm": "Robot confirms a start or a stop",
    "webhook_execution_complete": "Robot reports a finished run",
    "webhook_heartbeat": "Robot says it is alive",
    "webhook_yingdao": "Yingdao's job or task callback (the secret as `?token=`)",
    "resources_file": "Download a file this server stored",
    "resources_proxy": "Fetch an allow-listed cloud object (inline)",
    "resources_proxy_download": "Fetch an allow-listed cloud object as an attachment",
    "resources_proxy_intranet": "Send a raw relay control request (the SPA's start/stop)",
    "resources_upload_config": "Upload a task's config file",
    "resources_config_get": "Robot asks for its task's config",
    "sse_status": "How many event streams are open",
    "alerts_channels_test": "Send a test message through a channel now",
    "queues_items_list": "List a queue's items (filters, newest first, paginated)",
    "queues_items_create": "Add one item, or up to 1,000 at once (all or nothing)",
    "queues_items_upload": "Add items from a CSV file (all or nothing, errors per line)",
    "queue_items_retry": "Retry a failed or abandoned item as a new item",
    "queue_items_delete": "Delete a new item (status deleted)",
    "webhook_queue_next": "Robot takes the next ready item of a queue",
    "webhook_queue_items_result": "Robot records the result of the item it took",
}

# Query parameters whose filter does not describe itself.
PARAMETER_DESCRIPTIONS = {
    "page": "page number, from 1 (default 1); a page past the end has no items",
    "page_size": "items per page, 1..100 (default 20)",
    "host_ip": "exact host IP",
    "app_name": "exact app name",
    "shadow_bot_account": "exact robot account name",
    "account_id": "the robot account's id",
    "task_id": "the task's id",
    "start_date": "started at or after: a date (YYYY-MM-DD, server time zone) or an ISO 8601 date-time",
    "end_date": "started at or before: a date-time, or a date meaning that whole day",
}

TAG_OF_PATH = {"webhook": "webhooks", "sse": "events", "health": "service", "queue-items": "queues"}

_STANDARD_SUMMARIES = {
    "list": "List {plural} (paginated)",
    "create": "Create {a} {name}",
    "retrieve": "Get {a} {name}",
    "update": "Update {a} {name} (partial: only the fields sent change)",
    "partial_update": "Update some fields of {a} {name}",
    "destroy": "Delete {a} {name}",
}


def standard_summary(action: str, view: Any) -> str:
    model = getattr(getattr(view, "queryset", None), "model", None)
    name = str(model._meta.verbose_name) if model is not None else "object"
    plural = str(model._meta.verbose_name_plural) if model is not None else "objects"
    article = "an" if name[:1] in "aeiou" else "a"
    return _STANDARD_SUMMARIES[action].format(name=name, plural=plural, a=article)


def first_line(text: str | None) -> str | None:
    line = (text or "").strip().split("\n", 1)[0].strip()
    return line.rstrip(".") or None


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


SHARED_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every 4xx/5xx body (API.md §0). Some endpoints add fields (e.g. "
        "`success: false` and `url` on the intranet control endpoint, `control_request_id`).",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable machine code, e.g. VALIDATION_ERROR"},
            "message": {"type": "string", "description": "human message the SPA displays"},
            "details": {
                "description": "per-field errors for VALIDATION_ERROR, else any detail",
                "nullable": True,
            },
        },
        "additionalProperties": True,
    },
    "Deleted": {
        "type": "object",
        "required": ["message", "code"],
        "properties": {"message": {"type": "string"}, "code": {"type": "string", "enum": ["DELETED"]}},
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "webhookToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Webhook-Token",
        "description": "The robots' shared secret (RPA_WEBHOOK_TOKEN), compared in constant time.",
    },
    "webhookBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same shared secret as `Authorization: Bearer <secret>`.",
    },
    "webhookQueryToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The same shared secret as `?token=`, only where a caller cannot set headers "
        "(Yingdao's callbackUrl).",
    },
    "sseQueryToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The access JWT as `?token=`, only on the event stream.",
    },
}

SECURITY_DESCRIPTIONS = {
    "jwtAuth": "`Authorization: Bearer <access JWT>` from `POST /api/v1/auth/token`.",
    "cookieAuth": "A Django session (admin users browsing the API). Writes also need the CSRF token.",
}

SSE_EVENTS = {
    "log_created": "`{log_id, shadow_bot_account, app_name, status}`",
    "account_updated": "`{account_id, shadow_bot_account, changes: {...changed fields}}`",
    "task_updated": "`{task_id, shadow_bot_account, app_name, changes: {...changed fields}}`",
    "job_updated": "`{job_id, task_id, account_id, shadow_bot_account, app_name, status, changes}`",
    "alert": "`{alert_id, event, severity, message, account_id, task_id, job_id}`",
    "queue_updated": "`{queue_id, name, counts}`: a work queue changed (at most one a second per queue)",
    "heartbeat": "`{timestamp}`, every RPA_SSE_HEARTBEAT_SECONDS (default 30)",
    "stream-reset": "`{channels}`: the resume point is older than the retention; reload",
}

SSE_DESCRIPTION = (
    "A `text/event-stream` that stays open. Each event is\n\n"
    "```\nevent: task_updated\nid: <channel>:<n>\n"
    'data: {"type": "task_updated", "data": {...}}\n```\n\n'
    "| event | `data.data` |\n|---|---|\n"
    + "".join(f"| `{name}` | {shape} |\n" for name, shape in SSE_EVENTS.items())
    + "\nEvents are published only after their transaction commits. A client reconnecting with "
    "`Last-Event-ID` (EventSource does it by itself) receives what it missed. Errors (bad "
    "`account_id`, no credentials) are JSON before any stream opens."
)


def _sse_events_operation() -> dict[str, Any]:
    return {
        "operationId": "sse_events",
        "summary": "Stream events (server-sent events)",
        "description": SSE_DESCRIPTION,
        "tags": ["events"],
        "parameters": [
            {
                "name": "account_id",
                "in": "query",
                "required": False,
                "description": "only this account's events",
                "schema": {"type": "string", "format": "uuid"},
            },
            {
                "name": "token",
                "in": "query",
                "required": False,
                "description": "access JWT, for EventSource which cannot set headers",
                "schema": {"type": "string"},
            },
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "resume after this id (`<channel>:<n>`, as sent in `id:` lines)",
                "schema": {"type": "string"},
            },
            {
                "name": "lastEventId",
                "in": "query",
                "required": False,
                "description": "the same as `Last-Event-ID`, for EventSource polyfills",
                "schema": {"type": "string"},
            },
        ],
        "security": [{"jwtAuth": []}, {"cookieAuth": []}, {"sseQueryToken": []}],
        "responses": {
            "200": {
                "description": "The stream; it does not end (the client closes it)",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            "400": _error("Invalid `account_id` or `Last-Event-ID`"),
            "401": _error("No valid token or session"),
            "403": _error("The user may read nothing"),
            "404": _error("No account with this `account_id`"),
        },
    }


def _health_operation() -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["status", "database", "version", "sse"],
        "properties": {
            "status": {"type": "string", "enum": ["healthy", "unhealthy"]},
            "database": {"type": "string", "enum": ["connected", "unreachable"]},
            "version": {"type": "string"},
            "sse": {"type": "string"},
        },
    }
    content = {"application/json": {"schema": body}}
    return {
        "operationId": "health",
        "summary": "Health: the database answers",
        "tags": ["service"],
        "security": [{}],
        "responses": {
            "200": {"description": "Healthy", "content": content},
            "503": {"description": "The database is unreachable", "content": content},
        },
    }


def extra_paths() -> dict[str, Any]:
    return {"/api/v1/sse/events": {"get": _sse_events_operation()}, "/health": {"get": _health_operation()}}

