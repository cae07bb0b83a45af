"""API routes of the resources app, mounted under /api/v1/ (the stored-file catch-all comes last)."""

from django.urls import path

from resources import views

urlpatterns = [
    path("resources/proxy", views.ProxyView.as_view(), name="resource-proxy"),
    path("resources/proxy/download", views.ProxyDownloadView.as_view(), name="resource-proxy-download"),
    path("resources/proxy/intranet", views.IntranetControlView.as_view(), name="resource-proxy-intranet"),
    path("resources/upload/config", views.ConfigUploadView.as_view(), name="resource-upload-config"),
    path("resources/config/get", views.TaskConfigView.as_view(), name="resource-config-get"),
    path("resources/<path:path>", views.StoredFileView.as_view(), name="resource-file"),
]
