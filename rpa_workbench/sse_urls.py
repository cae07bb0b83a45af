"""`/api/v1/sse/…` — the event stream and its status (rpa_workbench.sse)."""

from django.urls import path

from rpa_workbench import sse

urlpatterns = [
    path("events", sse.events_view, name="sse-events"),
    path("status", sse.StatusView.as_view(), name="sse-status"),
]
