"""`/api/v1/sse/…` — the event stream (owned by rpa_workbench.events)."""

urlpatterns: list = []
