"""django-filter's backend, without building a FilterSet for a request that names none of its
parameters.

Most list requests (`GET /api/v1/accounts`, a page of the SPA) carry no filter at all; django-
filter still builds the FilterSet's form, validates empty data and runs every filter with an
empty value, each of which gives the queryset back. That was about a tenth of a list request.
The queryset is returned as is when nothing could change it:

- no query parameter is a filter's (its name, or its name and a `_suffix` as range widgets read);
- the FilterSet's own `filter_queryset`, `qs`, `is_valid` and `form` are django-filter's;
- no filter is required, and each filter is django-filter's own (or a `method=` one), which
  return the queryset unchanged for an empty value.

Anything else (any filter parameter, even empty or invalid) goes through django-filter, so its
validation errors and results are exactly django-filter's.

It reads django-filter's `FilterSet._meta.form` and relies on what `DjangoFilterBackend` does:
kept because it buys more than half of an unfiltered list request (bench/overrides.py), and
pinned to django-filter 26.2 in rpa_workbench/tests/test_private_overrides.py.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend

_FILTERSET_METHODS = ("filter_queryset", "qs", "is_valid", "form", "errors", "get_form_class")


def _is_identity_when_empty(filterset_class: type[django_filters.FilterSet]) -> bool:
    """With no parameter of its own, a FilterSet of this class gives the queryset back."""
    if filterset_class._meta.form is not django_filters.FilterSet._meta.form:
        return False  # a form of its own may validate (or fail) empty data
    for method in _FILTERSET_METHODS:
        if getattr(filterset_class, method) is not getattr(django_filters.FilterSet, method):
            return False
    for declared in filterset_class.base_filters.values():
        own_filter = type(declared).filter.__module__.startswith("django_filters.")
        if declared.extra.get("required") or not (own_filter or declared.method):
            return False
    return True


_IDENTITY: dict[type, bool] = {}


def is_identity_when_empty(filterset_class: type[django_filters.FilterSet]) -> bool:
    """`_is_identity_when_empty`, worked out once per class (it depends on code only)."""
    try:
        return _IDENTITY[filterset_class]
    except KeyError:
        answer = _IDENTITY[filterset_class] = _is_identity_when_empty(filterset_class)
        return answer


def names_a_filter(filterset_class: type[django_filters.FilterSet], params) -> bool:
    """Some query parameter is one of the FilterSet's (or may be read by a filter's widget)."""
    names = filterset_class.base_filters
    for key in params:
        if key in names or any(key.startswith(f"{name}_") for name in names):
            return True
    return False


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend, returning the queryset as is when the request names no filter."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if (
            filterset_class is not None
            and is_identity_when_empty(filterset_class)
            and not names_a_filter(filterset_class, request.query_params)
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
