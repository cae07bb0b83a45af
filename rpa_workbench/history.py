"""Who changed what, whatever the entry point: the admin's history (Django's `LogEntry`).

The admin writes a LogEntry for each add, change and delete made through it; the API did not,
so its edits left no trace. `record_addition` / `record_change` / `record_deletion` write the
same rows, in the same format as the admin (a JSON change message listing the changed fields'
labels, which the admin's *History* page translates), so an object's history page lists every
edit with its author — from the admin or from the API. `HistoryMixin` does it for a DRF model
viewset (accounts, tasks, alert channels; pools and queues can add it the same way).

Only field *names* are recorded, never values: a channel's secret stays out of the history.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import models
from django.utils import translation
from django.utils.text import capfirst


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The values an edit can change: editable columns (a relation by its key) and
    many-to-many sets; not the timestamps Django stamps itself."""
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if not field.editable or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        values[field.name] = field.value_from_object(instance)
    if instance.pk is not None:
        for field in instance._meta.many_to_many:
            values[field.name] = frozenset(getattr(instance, field.name).values_list("pk", flat=True))
    return values


def changed_fields(before: dict[str, Any], instance: models.Model) -> list[str]:
    """Names of the fields whose value differs from `before`."""
    after = snapshot(instance)
    return [name for name, value in before.items() if after.get(name) != value]


def _labels(instance: models.Model, names: list[str]) -> list[str]:
    """Field labels as the admin stores them: capitalised verbose names, untranslated."""
    with translation.override(None):
        return [str(capfirst(instance._meta.get_field(name).verbose_name)) for name in names]


def _log(user, instance: models.Model, flag: int, message: Any) -> LogEntry | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None  # a command or a robot: nobody to name
    return LogEntry.objects.log_actions(user.pk, [instance], flag, message, single_object=True)


def record_addition(*, user, instance: models.Model) -> LogEntry | None:
    return _log(user, instance, ADDITION, [{"added": {}}])


def record_change(*, user, instance: models.Model, fields: list[str]) -> LogEntry | None:
    """A change of `fields` (names); nothing is recorded when nothing changed."""
    if not fields:
        return None
    return _log(user, instance, CHANGE, [{"changed": {"fields": _labels(instance, fields)}}])


def record_deletion(*, user, instance: models.Model) -> LogEntry | None:
    """`instance` as it was before the delete (its primary key still set)."""
    return _log(user, instance, DELETION, "")


class HistoryMixin:
    """For a DRF ModelViewSet: each create, edit and delete goes into the object's admin history,
    written once the domain function has done (and committed) the change: a refused change
    records nothing, and the domain function's own transaction stays as it is. A viewset whose delete is a domain function puts it
    in `delete_instance` (not `perform_destroy`)."""

    def delete_instance(self, instance) -> None:
        instance.delete()

    def perform_create(self, serializer):
        super().perform_create(serializer)
        record_addition(user=self.request.user, instance=serializer.instance)

    def perform_update(self, serializer):
        before = snapshot(serializer.instance)
        super().perform_update(serializer)
        # What this client asked for and what did change (not a robot's write meanwhile).
        fields = [name for name in changed_fields(before, serializer.instance) if name in serializer.validated_data]
        record_change(user=self.request.user, instance=serializer.instance, fields=fields)

    def perform_destroy(self, instance):
        gone = copy.copy(instance)  # Django clears the instance's key on delete
        self.delete_instance(instance)
        record_deletion(user=self.request.user, instance=gone)
