"""Template tags of our admin pages."""

from __future__ import annotations

import json

from django import template
from django.contrib.admin.models import LogEntry
from django.utils import translation
from django.utils.text import capfirst

register = template.Library()


def _field_labels(model) -> dict[str, str]:
    """A model's field labels as Django stores them in a change message (capitalised, in the
    default language, English) → the label in the current language."""
    labels = {}
    for field in model._meta.get_fields():
        verbose = getattr(field, "verbose_name", None)
        if verbose is None:
            continue
        with translation.override("en"):
            stored = capfirst(str(verbose))
        labels[stored] = capfirst(str(verbose))
    return labels


@register.simple_tag
def change_message(action: LogEntry) -> str:
    """`action.get_change_message()` with the changed fields named in the page's language.

    Django stores the fields' labels in English ("Changed Schedule and Schedule time zone.") and
    translates them when shown by looking each up in the catalogue as it is; our catalogue has the
    verbose names ("schedule"), so they are mapped through the model's fields here."""
    model = action.content_type.model_class() if action.content_type_id else None
    if model is None or not action.change_message or not action.change_message.startswith("["):
        return action.get_change_message()
    labels = _field_labels(model)
    try:
        entries = json.loads(action.change_message)
    except json.JSONDecodeError:
        return action.get_change_message()
    for entry in entries:
        changed = entry.get("changed") if isinstance(entry, dict) else None
        if changed and isinstance(changed.get("fields"), list):
            changed["fields"] = [labels.get(name, name) for name in changed["fields"]]
    return LogEntry(change_message=json.dumps(entries)).get_change_message()
