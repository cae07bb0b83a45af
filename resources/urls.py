"""API routes of the resources app, mounted under /api/v1/."""

urlpatterns: list = []
