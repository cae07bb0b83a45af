"""Dispatch backends (API.md §9.3): how a job's START and stop reach its robot.

A backend is one module exposing an object with `name`, `is_configured()`, `start(job)` and
`stop(job)` (optionally `query(job)` and `list_robots()`), registered by one line in `REGISTRY`.
Backends are called only through `call()`, which refuses to run inside a database transaction:
a network call must never hold a transaction (and its locks) open.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Protocol

from django.db import connection

logger = logging.getLogger(__name__)

# name → "module.path:attribute"; adding a backend is one module plus one line here.
REGISTRY: dict[str, str] = {
    "relay": "jobs.backends.relay:backend",
    "yingdao": "yingdao.backend:backend",  # yingdao/ sits above jobs/: looked up, not imported
}


@dataclass(frozen=True)
class DispatchOutcome:
    """What happened to one message sent to a backend (stored on its ControlRequest)."""

    ok: bool
    message: str
    external_id: str | None = None
    response_status: int | None = None
    error: str = ""
    latency_ms: int | None = None
    # True when the message may have reached the robot although the call failed (a read
    # timeout): such a START is never sent again.
    may_have_reached: bool = False
    url: str = ""  # masked: no credentials


class DispatchBackend(Protocol):
    name: str

    def is_configured(self) -> bool: ...

    def start(self, job) -> DispatchOutcome: ...

    def stop(self, job) -> DispatchOutcome: ...


class BackendNotConfigured(Exception):
    """The backend cannot be used (no URL or credentials, or not installed): a 503."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message

    @property
    def code(self) -> str:
        return "RELAY_NOT_CONFIGURED" if self.name == "relay" else "BACKEND_NOT_CONFIGURED"


class InsideTransaction(RuntimeError):
    """A backend was called inside `transaction.atomic` (a programming error)."""


def get_backend(name: str) -> DispatchBackend:
    target = REGISTRY.get(name)
    if target is None:
        raise BackendNotConfigured(name, f"unknown dispatch backend {name!r}")
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise BackendNotConfigured(name, f"dispatch backend {name} is not installed") from None
    return getattr(module, attribute)


def in_transaction() -> bool:
    """Whether a transaction is open, not counting the ones a Django TestCase wraps every test
    in (marked `_from_testcase` by Django ≥ 4.1; checked with 5.2, see
    jobs/tests/test_backends.py), so the rule is enforced in tests too."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def ensure_outside_transaction() -> None:
    if in_transaction():
        raise InsideTransaction("a dispatch backend must never be called inside a database transaction")


def call(backend: DispatchBackend, action: str, job) -> DispatchOutcome:
    """`backend.start(job)` or `backend.stop(job)`, outside any transaction, never raising for
    the backend's own failures (they come back as a failed outcome)."""
    ensure_outside_transaction()
    try:
        return getattr(backend, action)(job)
    except (BackendNotConfigured, InsideTransaction):
        raise
    except Exception as exc:
        logger.exception("dispatch backend %s: unexpected error in %s of job %s", backend.name, action, job.pk)
        return DispatchOutcome(
            ok=False,
            message=f"{backend.name} {action} failed",
            error=f"unexpected {type(exc).__name__} (see the server log)",
        )
