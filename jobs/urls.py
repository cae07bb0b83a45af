"""API routes of the jobs app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from jobs.views import JobViewSet

router = SimpleRouter(trailing_slash=False)
router.register("jobs", JobViewSet, basename="job")

urlpatterns = router.urls
