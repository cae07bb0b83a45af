"""The private code of Django, DRF, Daphne, django-filter and django-eventstream this project
relies on, pinned to the versions it was written for. docs/architecture.md ("Private overrides")
lists each place, what it buys (bench/overrides.py, bench/README.md) and why it is kept.

An upgrade that changes one of them fails here: re-read the new code, adapt the override, and
re-measure what it buys before updating the fingerprint — or remove it.

- `rpa_workbench/handler.py` (the sync middleware chain and view in one call on a long-lived
  pool thread) overrides `ASGIHandler.__init__` and `handle` (and sets `response._handler_class`
  as Django's `handle` does);
- `rpa_workbench/sqlite/base.py` (the writers of one process queued on a lock) overrides
  `_start_transaction_under_autocommit`, `_commit`, `_rollback`, `_close`;
- `rpa_workbench/event_hub.py` (the hub) replaces `ListenerManager.__init__`, calls its
  `add_listener`/`remove_listener`, and uses `Listener`'s attributes;
- `rpa_workbench/representation.py` (list rows) reads `Serializer._readable_fields`,
  `ChoiceField.choice_strings_to_values` (set by `_set_choices`) and `fields.get_attribute`, and
  repeats `Serializer.to_representation` and `Field.get_attribute`;
- `rpa_workbench/filtering.py` reads `FilterSet._meta.form` and stands in for
  `DjangoFilterBackend.filter_queryset`;
- `executionlogs/admin.py` (`CalendarQuerySet`) answers the calls the admin's `date_hierarchy`
  tag makes;
- `rpa_workbench/serve.py` closes a connection whose application failed mid-response, reading
  Daphne's `Server.connections`, `application_instance` and `WebRequest._response_started`;
- `rpa_workbench/same_origin.py` runs Django's CSRF check on a copy of a GET as if it were a
  POST, setting `HttpRequest._post`, `_files` and `_dont_enforce_csrf_checks`; views reach the
  `HttpRequest` behind DRF's `Request` as `request._request`;
- `rpa_workbench/schema.py` extends drf-spectacular's `AutoSchema._map_serializer_field`.
The tests at the end pin the effect of two of them (one thread hand-over per request, the frozen
start-up heap): they say nothing of behaviour, only that the trick is still in place.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from django.conf import settings

from rpa_workbench.handler import GC_THRESHOLDS, ASGIHandler, shutdown_request_threads
from rpa_workbench.testing import live_server
from rpa_workbench.tests.test_asgi_handler import Crossings, call, http_scope

WRITTEN_FOR = {
    "django": "5.2.19",
    "django-eventstream": "5.3.4",
    "djangorestframework": "3.18.3",
    "django-filter": "26.2",
    "daphne": "4.2.3",
    "drf-spectacular": "0.30.0",
}

FINGERPRINTS = {
    "django.core.handlers.asgi.ASGIHandler.__init__": "41379d4f4b69f900",
    "django.core.handlers.asgi.ASGIHandler.handle": "98faeb5bef800331",
    "django.db.backends.sqlite3.base.DatabaseWrapper._start_transaction_under_autocommit": "7315cfc61c1dde12",
    "django.db.backends.base.base.BaseDatabaseWrapper._commit": "8ebc361e1e8fcb8d",
    "django.db.backends.base.base.BaseDatabaseWrapper._rollback": "d671ec3bb3c8ed44",
    "django.db.backends.base.base.BaseDatabaseWrapper._close": "d1a3f0e9a11cd084",
    "django_eventstream.views.ListenerManager.__init__": "f77490a245a40df6",
    "django_eventstream.views.ListenerManager.add_listener": "d1fbedb5454fbdd0",
    "django_eventstream.views.ListenerManager.remove_listener": "121f80bf659a9079",
    "django_eventstream.views.Listener.__init__": "87032e6e57f8e4d8",
    "rest_framework.serializers.Serializer._readable_fields": "9d978266584ed419",
    "rest_framework.serializers.Serializer.to_representation": "f2d1de6d682c8395",
    "rest_framework.fields.Field.get_attribute": "d6478027a6aad668",
    "rest_framework.fields.get_attribute": "317c25d7087ede4d",
    "rest_framework.fields.ChoiceField._set_choices": "5f0ec89ee8a8ba55",
    "django_filters.rest_framework.backends.DjangoFilterBackend.filter_queryset": "2ccdc2366a7ac41d",
    "django_filters.filterset.FilterSetOptions.__init__": "9a32aae05eea1f11",
    "django.contrib.admin.templatetags.admin_list.date_hierarchy": "89a805f832aa65f8",
    "daphne.server.Server.create_application": "f1e300b4ecf636c8",
    "daphne.server.Server.application_checker": "ccb688341a7d0bc1",
    "daphne.http_protocol.WebRequest.handle_reply": "3e14b239c2602d95",
    "django.middleware.csrf.CsrfViewMiddleware.process_view": "cdbdabe04318fc2f",
    "django.middleware.csrf.CsrfViewMiddleware.process_request": "9aec8dfd81c88a56",
    "django.http.request.HttpRequest._load_post_and_files": "651706c4c9ac1ede",
    "rest_framework.request.Request.__init__": "b1a5b4832249bb31",
    "drf_spectacular.openapi.AutoSchema._map_serializer_field": "a9ab2e5c5f9603bb",
}


def resolve(dotted: str):
    """The function behind a dotted name: a module's function, or a class's method or property."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
            break
        except ImportError:
            continue
    for name in parts[split:]:
        target = inspect.getattr_static(target, name) if inspect.isclass(target) else getattr(target, name)
    return target.fget if isinstance(target, property) else target


@pytest.mark.parametrize("package", sorted(WRITTEN_FOR))
def test_the_overrides_were_written_for_the_installed_versions(package):
    assert version(package) == WRITTEN_FOR[package], (
        f"{package} changed: check the overrides listed in this module, re-measure, then update"
    )


@pytest.mark.parametrize("dotted", sorted(FINGERPRINTS))
def test_the_overridden_code_is_unchanged(dotted):
    source = inspect.getsource(resolve(dotted))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == FINGERPRINTS[dotted], (
        f"{dotted} changed upstream: adapt its override before updating the fingerprint"
    )


# --- The effect of two tricks, pinned (they prove no behaviour: only that the trick is in place).


@pytest.mark.django_db(transaction=True)
def test_a_synchronous_request_enters_a_worker_thread_once(monkeypatch, request_threads_closed):
    """Two hand-overs in all: the request-started signal, the stack and the view in one, then
    closing the response once it is sent (Django's own handler makes one or more per
    middleware, and starts a thread per request)."""
    crossings: list[Crossings] = []
    start, _, content = call(
        ASGIHandler(), http_scope("/health"), on_start=lambda: crossings.append(Crossings(monkeypatch))
    )
    assert start["status"] == 200
    assert json.loads(content)["database"] == "connected"
    assert (crossings[0].to_thread, crossings[0].to_loop) == (2, 0)


@pytest.mark.django_db(transaction=True)
def test_the_server_entry_point_freezes_the_startup_heap_and_raises_gc_thresholds(tmp_path):
    """Full collections over a thousand open streams stalled them all for 150–250 ms."""
    probe = (
        "import gc, json, rpa_workbench.asgi; "
        "print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "RPA_EMBEDDED_SCHEDULER": "false",
        "RPA_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": live_server.test_database_url(),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    thresholds, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    assert tuple(thresholds) == GC_THRESHOLDS
    assert frozen > 50_000  # Django, the apps and every view


@pytest.fixture
def request_threads_closed():
    """The pool threads keep their database connections: closed before the test database goes."""
    yield
    shutdown_request_threads()
