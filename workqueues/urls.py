"""API routes of the work queues app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from workqueues import robot_views
from workqueues.views import QueueItemViewSet, WorkQueueViewSet

router = SimpleRouter(trailing_slash=False)
router.register("queues", WorkQueueViewSet, basename="workqueue")
router.register("queue-items", QueueItemViewSet, basename="queueitem")

urlpatterns = [
    path("webhook/queue/next", robot_views.TakeNextView.as_view(), name="webhook-queue-next"),
    path("webhook/queue/items/<uuid:item_id>/result", robot_views.ResultView.as_view(), name="webhook-queue-result"),
    *router.urls,
]
