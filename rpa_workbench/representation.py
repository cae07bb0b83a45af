"""A list page's rows written without DRF's per-row machinery, with the same JSON.

DRF's `Serializer.to_representation` first builds `self.fields` (per serializer instance: a deep
copy of the declared fields plus the model's), then, for each field of each row, goes through
`get_attribute` and the field's `to_representation`; a datetime looks the current time zone up
each time. On a page of 20 rows that was about half of a list request's Python.

`ReadPlan` works out once per serializer class (the `fields` of one prototype instance, each
field's `source_attrs`, `to_representation`, `default_timezone`) how each readable field is read
and written, and writes a row from that: the same keys, in the same
order, with the same values. A row the plan cannot write (an attribute missing, a field
reading its context) is written by DRF itself, so the plan is never wrong, only sometimes not
faster. Serializer classes the plan does not understand (nested serializers, hyperlinks, file
URLs, overridden `get_fields`) have no plan and are written by DRF.

`ListedFast` (a serializer mixin) uses the plan for the rows of a list (`many=True`) only; one
object (retrieve, the answer of a create or update) is still written by DRF.
rpa_workbench/tests/test_representation.py compares both on varied rows.

Not all of it is DRF's public API: it reads `Serializer._readable_fields`, a `ChoiceField`'s
`choice_strings_to_values` and DRF's `fields.get_attribute`, and repeats what
`Serializer.to_representation` does. Kept because it buys more than half of a list request
(bench/overrides.py), and pinned to DRF 3.18.3 in rpa_workbench/tests/test_private_overrides.py
(docs/architecture.md, "Private overrides").
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db import models
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)

Getter = Callable[[Any], Any]
Converter = Callable[[Any], Any]
# What a step does with the attribute: write it with `convert`, call the serializer's method, or
# write it as a datetime (the zone is looked up once per row).
CONVERT, METHOD, DATETIME = "convert", "method", "datetime"


class ContextNotAvailable(Exception):
    """A prototype field read its context: that row is written by DRF with the real one."""


class _NoContext(Mapping):
    """The prototype's context: any read raises, so a plan never writes from a wrong context."""

    def __getitem__(self, key):
        raise ContextNotAvailable(key)

    def __iter__(self):
        raise ContextNotAvailable("iteration")

    def __len__(self):
        raise ContextNotAvailable("len")

    def get(self, key, default=None):
        raise ContextNotAvailable(key)


def iso_datetime(value: datetime, zone) -> str | None:
    """DRF's ISO 8601 text of an aware `value` in `zone` (`+00:00` written `Z`), or None when
    DRF must decide (naive values, no zone, an overflow)."""
    if zone is None or value.utcoffset() is None:
        return None
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:
        return None
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _choice_converter(field: serializers.ChoiceField) -> Converter:
    mapping = field.choice_strings_to_values

    def convert(value):
        if type(value) is str:  # DRF: '' as is, else the choice of that text (or the value)
            return mapping.get(value, value)
        return field.to_representation(value)  # an Enum, a number: DRF's own rules

    return convert


def _converter(field: serializers.Field) -> Converter:
    """How `field` writes a non-null value: a builtin where DRF's method is exactly one."""
    method = type(field).to_representation
    if method is serializers.CharField.to_representation:
        return str
    if method is serializers.IntegerField.to_representation:
        return int
    if method is serializers.FloatField.to_representation:
        return float
    if method is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str
    if method is serializers.ChoiceField.to_representation:
        return _choice_converter(field)
    return field.to_representation


def _is_default_datetime(field: serializers.Field) -> bool:
    """DRF's DateTimeField as it is (no own zone or format): what `iso_datetime` reproduces."""
    kind = type(field)
    return (
        kind.to_representation is serializers.DateTimeField.to_representation
        and kind.enforce_timezone is serializers.DateTimeField.enforce_timezone
        and kind.default_timezone is serializers.DateTimeField.default_timezone
        and not hasattr(field, "timezone")
        and not hasattr(field, "format")
    )


# Fields whose output depends on more than the value: the request (hyperlinks, file URLs), a
# nested serializer, a queryset of related objects.
UNPLANNED_FIELDS = (
    serializers.BaseSerializer,
    relations.HyperlinkedRelatedField,
    relations.ManyRelatedField,
    serializers.FileField,
    serializers.ListField,
    serializers.DictField,
    serializers.HiddenField,
    serializers.ModelField,
)


class _Skip(Exception):
    """The field is left out of the row (DRF's SkipField for a missing, optional attribute)."""


def _when_missing(field: serializers.Field) -> Callable[[], Any] | None:
    """What DRF's `Field.get_attribute` does when the attribute is missing: a default, None,
    leave the key out (`_Skip`); None when only DRF can say (a callable default, an error)."""
    if field.default is not drf_fields.empty:
        if callable(field.default):
            return None
        return lambda: field.default
    if field.allow_null:
        return lambda: None
    if not field.required:
        def skip():
            raise _Skip
        return skip
    return None


def _getter(field: serializers.Field, concrete: set[str]) -> Getter:
    attrs = field.source_attrs
    if len(attrs) == 1 and attrs[0] in concrete:
        return operator.attrgetter(attrs[0])  # a stored column: never callable, never missing
    missing = _when_missing(field)

    def read(instance):
        try:
            return drf_fields.get_attribute(instance, attrs)
        except (KeyError, AttributeError):
            if missing is None:
                raise
            return missing()

    return read


class ReadPlan:
    """How one serializer class writes an instance, worked out once (see the module's doc)."""

    def __init__(self, steps: list[tuple[str, str, Getter | None, Any]], zone_of: Callable[[], Any] | None):
        self.steps = steps
        self.zone_of = zone_of  # the DRF DateTimeField's own `default_timezone`

    @classmethod
    def build(cls, serializer_class: type[serializers.Serializer]) -> ReadPlan | None:
        if not _plain_serializer(serializer_class):
            return None
        prototype = serializer_class(context=_NoContext())
        model = getattr(getattr(serializer_class, "Meta", None), "model", None)
        concrete = _concrete_columns(model)
        steps: list[tuple[str, str, Getter | None, Any]] = []
        zone_of = None
        for field in prototype.fields.values():
            if field.write_only:
                continue
            if isinstance(field, UNPLANNED_FIELDS):
                return None
            if type(field) is serializers.SerializerMethodField:
                steps.append((field.field_name, METHOD, None, field.method_name))
                continue
            plain_read = type(field).get_attribute is serializers.Field.get_attribute
            slug = type(field) is relations.SlugRelatedField  # RelatedField's read, minus pk-only
            if not (plain_read or slug) or field.source == "*":
                return None
            if _is_default_datetime(field):
                zone_of = zone_of or field.default_timezone
                steps.append((field.field_name, DATETIME, _getter(field, concrete), field.to_representation))
            else:
                steps.append((field.field_name, CONVERT, _getter(field, concrete), _converter(field)))
        return cls(steps, zone_of)

    def represent(self, serializer: serializers.Serializer, instance) -> dict[str, Any]:
        """The row as DRF writes it (any surprise raises: the caller lets DRF write it)."""
        ret: dict[str, Any] = {}
        zone = self.zone_of() if self.zone_of is not None else None
        iso = api_settings.DATETIME_FORMAT
        iso = isinstance(iso, str) and iso.lower() == drf_fields.ISO_8601
        for name, kind, getter, how in self.steps:
            if kind == METHOD:
                ret[name] = getattr(serializer, how)(instance)
                continue
            try:
                value = getter(instance)
            except _Skip:
                continue
            if value is None:
                ret[name] = None
            elif kind == DATETIME:
                text = iso_datetime(value, zone) if iso and isinstance(value, datetime) else None
                ret[name] = how(value) if text is None else text
            else:
                ret[name] = how(value)
        return ret


def _plain_serializer(serializer_class: type) -> bool:
    """Its fields come from DRF's own `__init__` and `get_fields` (not chosen per request or per
    user)."""
    return (
        issubclass(serializer_class, serializers.Serializer)
        and serializer_class.__init__ is serializers.BaseSerializer.__init__
        and serializer_class.get_fields in (serializers.Serializer.get_fields, serializers.ModelSerializer.get_fields)
        and serializer_class.fields is serializers.Serializer.fields
        and serializer_class._readable_fields is serializers.Serializer._readable_fields
    )


def _concrete_columns(model) -> set[str]:
    if model is None:
        return set()
    names = set()
    for field in model._meta.concrete_fields:
        names.add(field.attname)
        if not field.is_relation:
            names.add(field.name)
    return names


_PLANS: dict[type, ReadPlan | None] = {}


def plan_for(serializer_class: type[serializers.Serializer]) -> ReadPlan | None:
    """The class's plan, worked out on first use (code-derived, the same in every process)."""
    try:
        return _PLANS[serializer_class]
    except KeyError:
        plan = _PLANS[serializer_class] = ReadPlan.build(serializer_class)
        return plan


class ListedFast:
    """Serializer mixin: the rows of a list are written by the class's `ReadPlan`."""

    def to_representation(self, instance):
        listed = isinstance(self.parent, serializers.ListSerializer) and not self.root.partial
        if listed and isinstance(instance, models.Model):
            plan = plan_for(type(self))
            if plan is not None:
                try:
                    return plan.represent(self, instance)
                except Exception:  # DRF writes this row (and raises what it raises)
                    logger.debug("%s: row written by DRF", type(self).__name__, exc_info=True)
        return super().to_representation(instance)

