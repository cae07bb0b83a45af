"""The private methods of Django and django-eventstream this project overrides, pinned to the
versions they were written for: Django 5.2.19 and django-eventstream 5.3.4.

An upgrade that changes one of them fails here: re-read the new code, adapt the override, and
re-measure what it buys (bench/README.md) before updating the fingerprint — or remove it.

- `rpa_workbench/handler.py` (ASGI handler running the sync middleware chain and view in one
  call on a long-lived pool thread) overrides `ASGIHandler.__init__` and `handle`;
- `rpa_workbench/sqlite/base.py` (the writers of one process queued on a lock) overrides
  `_start_transaction_under_autocommit`, `_commit`, `_rollback`, `_close`;
- `rpa_workbench/event_hub.py` (the hub) replaces `ListenerManager.__init__`, calls its
  `add_listener`/`remove_listener`, and uses `Listener`'s attributes.
The GC tuning (`handler.tune_garbage_collector`) uses only the public `gc` API.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib.metadata import version

import pytest

WRITTEN_FOR = {"django": "5.2.19", "django-eventstream": "5.3.4"}

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
}


def resolve(dotted: str):
    module_name, class_name, attribute = dotted.rsplit(".", 2)
    return getattr(getattr(importlib.import_module(module_name), class_name), attribute)


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
