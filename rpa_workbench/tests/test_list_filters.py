"""A list request that names no filter skips building the FilterSet (rpa_workbench/filtering.py)
and gets exactly the queryset django-filter would have given; any filter parameter, even an
empty or a bad one, goes through django-filter as before."""

from __future__ import annotations

import django_filters
import pytest
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.filters import AccountFilter
from accounts.models import Account
from accounts.views import AccountViewSet
from executionlogs.filters import ExecutionLogFilter
from jobs.filters import JobFilter
from rpa_workbench.filtering import FilterBackend, is_identity_when_empty, names_a_filter
from tasks.filters import TaskFilter


def request_for(query: str) -> Request:
    return Request(APIRequestFactory().get(f"/api/v1/accounts{query}"))


def view_with(filterset_class) -> AccountViewSet:
    view = AccountViewSet()
    view.filterset_class = filterset_class
    return view


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?page=2", "?page_size=5&page=1", "?unknown=1"])
def test_without_filter_parameters_the_queryset_is_django_filters_own(query, make_account):
    make_account(status="running")
    make_account()
    queryset = Account.objects.order_by("-created_at")
    ours = FilterBackend().filter_queryset(request_for(query), queryset, view_with(AccountFilter))
    theirs = DjangoFilterBackend().filter_queryset(request_for(query), queryset, view_with(AccountFilter))
    assert str(ours.query) == str(theirs.query)
    assert list(ours) == list(theirs)


def test_the_filtersets_of_the_lists_are_recognised():
    assert is_identity_when_empty(AccountFilter)
    assert is_identity_when_empty(TaskFilter)
    assert is_identity_when_empty(JobFilter)
    assert is_identity_when_empty(ExecutionLogFilter)  # its sort is a filter method


@pytest.mark.parametrize("query", ["status=", "status=running", "search=x", "presence=bogus"])
def test_a_filter_parameter_even_empty_is_named(query):
    assert names_a_filter(AccountFilter, request_for(f"?{query}").query_params)


def test_a_parameter_a_range_widget_reads_is_named():
    class RangeFilterSet(django_filters.FilterSet):
        port = django_filters.RangeFilter()

        class Meta:
            model = Account
            fields: list[str] = []

    assert names_a_filter(RangeFilterSet, request_for("?port_min=5").query_params)
    assert not names_a_filter(RangeFilterSet, request_for("?page=5").query_params)


def test_required_filters_and_own_filter_methods_keep_django_filter():
    class Required(django_filters.FilterSet):
        status = django_filters.CharFilter(required=True)

        class Meta:
            model = Account
            fields: list[str] = []

    class OwnFilter(django_filters.CharFilter):
        def filter(self, qs, value):
            return qs.filter(status="running")

    class Custom(django_filters.FilterSet):
        status = OwnFilter()

        class Meta:
            model = Account
            fields: list[str] = []

    assert not is_identity_when_empty(Required)
    assert not is_identity_when_empty(Custom)


@pytest.mark.django_db
def test_a_required_filter_still_refuses_a_request_without_it():
    class Required(django_filters.FilterSet):
        status = django_filters.CharFilter(required=True)

        class Meta:
            model = Account
            fields: list[str] = []

    with pytest.raises(ValidationError):
        FilterBackend().filter_queryset(request_for(""), Account.objects.all(), view_with(Required))


@pytest.mark.django_db
def test_bad_filter_values_answer_the_same_400(operator_client):
    response = operator_client.get("/api/v1/accounts", {"status": "bogus"})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "status" in response.json()["message"]


@pytest.mark.django_db
def test_an_empty_filter_value_lists_everything(operator_client, make_account):
    make_account()
    make_account(status="running")
    assert operator_client.get("/api/v1/accounts", {"status": ""}).json()["total"] == 2
    assert operator_client.get("/api/v1/accounts", {"status": "running"}).json()["total"] == 1
