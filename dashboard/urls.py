"""API routes of the dashboard app, mounted under /api/v1/."""

from django.urls import path

from dashboard import views

urlpatterns = [
    path("dashboard/stats", views.StatsView.as_view(), name="dashboard-stats"),
    path("dashboard/performance", views.PerformanceView.as_view(), name="dashboard-performance"),
    path("dashboard/execution-rank", views.ExecutionRankView.as_view(), name="dashboard-execution-rank"),
]
