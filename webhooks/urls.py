"""API routes of the webhooks app, mounted under /api/v1/."""

from django.urls import path

from webhooks import views

urlpatterns = [
    path("webhook/confirm", views.ConfirmView.as_view(), name="webhook-confirm"),
    path(
        "webhook/execution-complete", views.ExecutionCompleteView.as_view(), name="webhook-execution-complete"
    ),
    path("webhook/heartbeat", views.HeartbeatView.as_view(), name="webhook-heartbeat"),
    path("webhook/yingdao", views.YingdaoCallbackView.as_view(), name="webhook-yingdao"),
]
