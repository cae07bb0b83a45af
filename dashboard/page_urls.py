"""Server-rendered pages, mounted at the site root."""

from django.urls import path
from django.views.generic import RedirectView

from dashboard import pages
from rpa_workbench.login import ThrottledLoginView

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False), name="home"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("dashboard/content", pages.dashboard_content, name="dashboard-content"),
    # Sign-in for every role: the admin login form only admits staff, viewers and operators are not.
    path(
        "dashboard/login/",
        ThrottledLoginView.as_view(template_name="dashboard/login.html", redirect_authenticated_user=True),
        name="dashboard-login",
    ),
]
