"""Task parameters (API.md §11): the rules for a definition and for one typed value.

Pure functions, shared by the API serializer, the admin's parameter rows and `jobs.inputs`
(which resolves a start's inputs with `coerce`). Values arrive as JSON or, from the SPA and
admin forms, as strings: numeric and boolean strings are accepted for numbers and booleans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tasks.models import ParameterType

MAX_PARAMETERS = 50
NAME_MAX = 100
DESCRIPTION_MAX = 500
# Yingdao's limit for all inputs of one start, serialised (YINGDAO_OPENAPI.md).
INPUTS_MAX_CHARS = 8000
MASK = "******"
TYPES = tuple(ParameterType.values)
DEFINITION_KEYS = ("name", "type", "required", "default", "description", "secret")
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})


def without_value(message: str) -> str:
    """A coercion message minus the offending value it quotes (a secret's must never be echoed)."""
    return message.split(" (got ", 1)[0]


class ParameterError(ValueError):
    """A bad definition or value; `name` is the parameter to blame (None: the whole list)."""

    def __init__(self, name: str | None, message: str):
        super().__init__(f"{name}: {message}" if name else message)
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Definition:
    name: str
    type: str = ParameterType.STR
    required: bool = False
    default: Any = None
    description: str = ""
    secret: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in DEFINITION_KEYS}


# Rules a `file` value must pass, each answering its problem or None. Registered by the app that
# owns stored files and links (resources.apps: `link_problem`), which sits above tasks.
FILE_RULES: list[Callable[[str], str | None]] = []


def _file_problem(value: str) -> str | None:
    return next((problem for rule in FILE_RULES if (problem := rule(value))), None)


def coerce(kind: str, value: Any) -> Any:
    """`value` as a `kind` value, or ValueError saying what was expected."""
    if kind == ParameterType.STR:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError("must be text")
        return value if isinstance(value, str) else str(value)
    if kind == ParameterType.INT:
        if isinstance(value, bool):
            raise ValueError("must be an integer")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise ValueError(f"must be an integer (got {value[:50]!r})") from None
        if isinstance(value, int):
            return value
        raise ValueError("must be an integer")
    if kind == ParameterType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError("must be a number")
        try:
            number = float(value.strip()) if isinstance(value, str) else float(value)
        except ValueError:
            raise ValueError(f"must be a number (got {str(value)[:50]!r})") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if kind == ParameterType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        word = value.strip().lower() if isinstance(value, str) else None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("must be true or false")
    if kind == ParameterType.FILE:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a stored file's path (/api/v1/resources/…) or an http(s) URL")
        problem = _file_problem(value.strip())
        if problem:
            raise ValueError(problem)
        return value.strip()
    raise ValueError(f"unknown type {kind!r}")


def _flag(name: str, key: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    try:
        return coerce(ParameterType.BOOL, value)
    except ValueError:
        raise ParameterError(name, f"{key} must be true or false") from None


def definition(raw: Any, *, index: int = 0) -> Definition:
    """One definition from its JSON/form shape, checked (ParameterError naming it)."""
    if not isinstance(raw, dict):
        raise ParameterError(None, f"parameter {index + 1}: must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(None, f"parameter {index + 1}: name is required")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise ParameterError(name[:40], f"name must be at most {NAME_MAX} characters")
    unknown = sorted(set(raw) - set(DEFINITION_KEYS))
    if unknown:
        raise ParameterError(name, f"unknown key(s) {', '.join(unknown)}")
    kind = raw.get("type") or ParameterType.STR
    if kind not in TYPES:
        raise ParameterError(name, f"type must be one of {', '.join(TYPES)} (got {str(kind)[:20]!r})")
    description = raw.get("description") or ""
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise ParameterError(name, f"description must be text of at most {DESCRIPTION_MAX} characters")
    secret = _flag(name, "secret", raw.get("secret"))
    default = raw.get("default")
    if default is not None:
        try:
            default = coerce(kind, default)
        except ValueError as exc:
            raise ParameterError(name, f"default {without_value(str(exc)) if secret else exc}") from None
    return Definition(
        name=name, type=kind, required=_flag(name, "required", raw.get("required")), default=default,
        description=description, secret=secret,
    )


def definitions(raw: Any) -> list[Definition]:
    """A task's whole parameter list, checked: at most 50, names unique."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ParameterError(None, "must be a list of parameter definitions")
    if len(raw) > MAX_PARAMETERS:
        raise ParameterError(None, f"at most {MAX_PARAMETERS} parameters (got {len(raw)})")
    found: list[Definition] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        checked = definition(item, index=index)
        if checked.name in seen:
            raise ParameterError(checked.name, "duplicate parameter name")
        seen.add(checked.name)
        found.append(checked)
    return found


def represent(parameter) -> dict[str, Any]:
    """A stored parameter as the API shows it: a secret's default is masked."""
    default = parameter.default
    if parameter.secret and default is not None:
        default = MASK
    return {
        "name": parameter.name, "type": parameter.type, "required": parameter.required, "default": default,
        "description": parameter.description, "secret": parameter.secret,
    }


def current(task) -> list[Definition]:
    """The task's stored parameters, in order."""
    return [
        Definition(name=p.name, type=p.type, required=p.required, default=p.default, description=p.description,
                   secret=p.secret)
        for p in task.parameters.all()
    ]


def replace(task, new: list[Definition]) -> bool:
    """Make `new` the task's parameter list (in the caller's transaction); True when it changed.

    A secret parameter sent back with its masked default (`******`, what the API showed) keeps its
    stored default: secrets are write-only."""
    from tasks.models import TaskParameter

    old = {p.name: p for p in current(task)}
    kept = []
    for item in new:
        before = old.get(item.name)
        if item.secret and item.default == MASK and before is not None and before.secret:
            item = Definition(**{**item.as_dict(), "default": before.default})
        kept.append(item)
    if kept == list(old.values()):
        return False
    TaskParameter.objects.filter(task=task).delete()
    TaskParameter.objects.bulk_create(
        [TaskParameter(task=task, position=index, **item.as_dict()) for index, item in enumerate(kept)]
    )
    return True
