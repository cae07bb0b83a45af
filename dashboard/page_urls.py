"""Server-rendered pages, mounted at the site root."""

urlpatterns: list = []
