"""A job's inputs (API.md §11): resolved once at start, stored on the job, masked when shown.

`Job.inputs` is the list `[{name, type, value, secret}]` a start resolved from the task's
parameters (`tasks.parameters`) and the values it was given; a retry copies its original's list,
a scheduled start resolves the defaults. The robot's own read (`values`: config/get through
`resources.services.inputs_for_robot`, the Yingdao `params`) is the only place a secret value
leaves in clear; every other reader uses `masked`.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import status as http

from rpa_workbench.errors import ApiError
from tasks import parameters
from tasks.parameters import INPUTS_MAX_CHARS, MASK


def _invalid(name: str | None, message: str) -> ApiError:
    field = f"inputs.{name}" if name else "inputs"
    return ApiError(
        http.HTTP_400_BAD_REQUEST, "VALIDATION_ERROR", f"{field}: {message}",
        details={"inputs": {name: [message]} if name else [message]},
    )


def resolve(task, given: Any) -> list[dict[str, Any]]:
    """The inputs a start of `task` runs with: `given` checked against the task's parameters
    (unknown name, wrong type, a required value missing → 400 naming the parameter), omitted
    ones taking their defaults, the whole set at most 8,000 characters as JSON."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise _invalid(None, "must be an object {name: value}")
    declared = parameters.current(task)
    known = {item.name for item in declared}
    unknown = sorted(str(name) for name in given if name not in known)
    if unknown:
        raise _invalid(unknown[0], f"unknown parameter (task {task.task_name} declares: {', '.join(sorted(known)) or 'none'})")
    resolved = []
    for item in declared:
        value = given.get(item.name)
        if value is None or (value == "" and item.type != parameters.ParameterType.STR):
            value = item.default
            if value is None:
                if item.required:
                    raise _invalid(item.name, "required (the parameter has no default)")
                continue
        else:
            try:
                value = parameters.coerce(item.type, value)
            except ValueError as exc:
                raise _invalid(item.name, parameters.without_value(str(exc)) if item.secret else str(exc)) from None
        resolved.append({"name": item.name, "type": item.type, "value": value, "secret": item.secret})
    size = len(json.dumps(values(resolved), ensure_ascii=False))
    if size > INPUTS_MAX_CHARS:
        raise _invalid(None, f"{size} characters as JSON, over the limit of {INPUTS_MAX_CHARS} (pass big data as a file)")
    return resolved


def values(inputs: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """`{name: value}` in clear: for the robot only (config/get, the Yingdao params)."""
    if inputs is None:
        return None
    return {item["name"]: item["value"] for item in inputs}


def masked(inputs: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """`{name: value}` with every secret value shown as `******`: what everyone else sees."""
    if inputs is None:
        return None
    return {item["name"]: MASK if item.get("secret") else item["value"] for item in inputs}


def secret_values(inputs: list[dict[str, Any]] | None) -> list[str]:
    """The secret values as text (for scrubbing anything that might echo them)."""
    return [str(item["value"]) for item in inputs or () if item.get("secret") and str(item["value"])]


def copy_for_retry(job) -> list[dict[str, Any]] | None:
    """A retry runs with exactly what its original ran with."""
    return [dict(item) for item in job.inputs] if job.inputs is not None else None


def current_for_robot(task, robot_id=None) -> Any:
    """The job a relay robot asking for its config is running: the task's dispatched or running
    job (the newest; `robot_id`: on that robot, for a pool task), or None."""
    from jobs.models import Job, JobStatus

    jobs = Job.objects.filter(account_id=robot_id) if robot_id is not None else Job.objects
    return (
        jobs.filter(task_id=task.pk, status__in=[JobStatus.DISPATCHED, JobStatus.RUNNING])
        .order_by("-created_at").only("pk", "inputs").first()
    )
