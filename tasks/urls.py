"""API routes of the tasks app, mounted under /api/v1/."""

urlpatterns: list = []
