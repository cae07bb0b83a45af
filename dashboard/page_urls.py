"""Server-rendered pages, mounted at the site root."""

from django.urls import path
from django.views.generic import RedirectView

from dashboard import pages

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False), name="home"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("dashboard/content", pages.dashboard_content, name="dashboard-content"),
]
