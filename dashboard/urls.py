"""API routes of the dashboard app, mounted under /api/v1/."""

urlpatterns: list = []
