from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from rpa_workbench import token_views, views

handler400 = "rpa_workbench.errors.handler400"
handler403 = "rpa_workbench.errors.handler403"
handler404 = "rpa_workbench.errors.handler404"
handler500 = "rpa_workbench.errors.handler500"

api_v1 = [
    path("auth/token", TokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout", token_views.logout, name="logout"),
    path("auth/me", views.me, name="me"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("sse/", include("rpa_workbench.sse_urls")),
    path("", include("accounts.urls")),
    path("", include("pools.urls")),
    path("", include("tasks.urls")),
    path("", include("executionlogs.urls")),
    path("", include("dashboard.urls")),
    path("", include("webhooks.urls")),
    path("", include("resources.urls")),
    path("", include("jobs.urls")),
    path("", include("alerts.urls")),
    path("", include("workqueues.urls")),
]

urlpatterns = [
    path("health", views.health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin's language switcher
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}workbench/favicon.svg", permanent=True)),
    # The split view serves its start-up script at /docs?script (no inline script: CSP).
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="openapi"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="openapi"), name="redoc"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("dashboard.page_urls")),
]
