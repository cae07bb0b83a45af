"""API routes of the alerts app, mounted under /api/v1/ (API.md §10)."""

from rest_framework.routers import SimpleRouter

from alerts.views import AlertViewSet, ChannelViewSet, DeliveryViewSet

router = SimpleRouter(trailing_slash=False)
router.register("alerts/channels", ChannelViewSet, basename="alert-channel")
router.register("alerts/deliveries", DeliveryViewSet, basename="alert-delivery")
router.register("alerts", AlertViewSet, basename="alert")

urlpatterns = router.urls
