"""Under Daphne the middleware stack and a synchronous view run in one worker thread per request
(`rpa_workbench/middleware.py`): Django enters the stack once instead of once per middleware."""

from __future__ import annotations

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient
from django.utils.module_loading import import_string


def test_every_middleware_is_declared_sync_only():
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        assert middleware.sync_capable and not middleware.async_capable, path


def test_the_asgi_handler_enters_the_stack_once():
    handler = ASGIHandler()
    handler.load_middleware(is_async=True)
    assert isinstance(handler._middleware_chain, SyncToAsync)


@pytest.mark.django_db
def test_a_request_through_asgi_keeps_every_middlewares_effect():
    client = AsyncClient(headers={"host": "127.0.0.1"})
    response = async_to_sync(client.get)("/health")
    assert response.status_code == 200
    assert "origin" in response["Vary"].lower()  # CORS (its headers are tested on the live server)
    assert response["X-Frame-Options"] == "DENY"  # clickjacking
    assert response["X-Content-Type-Options"] == "nosniff"  # security
