"""API routes of the executionlogs app, mounted under /api/v1/."""

urlpatterns: list = []
