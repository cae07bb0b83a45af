"""Helpers of the tests that need the jobs app: callbacks delivered in the test's own thread to
the real webhook view, and a start through the API."""

from __future__ import annotations

from urllib.parse import urlsplit

from rest_framework.test import APIClient


def deliver_in_process(url: str, body: dict) -> int:
    """The fake's callback POSTed to our webhook (path and query of the callbackUrl)."""
    parts = urlsplit(url)
    return APIClient().post(f"{parts.path}?{parts.query}", body, format="json").status_code


def start(client, task) -> dict:
    response = client.post(f"/api/v1/tasks/{task.pk}/start")
    assert response.status_code == 200, response.json()
    return response.json()
