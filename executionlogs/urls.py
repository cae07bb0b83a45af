"""API routes of the executionlogs app, mounted under /api/v1/.

The router lists `logs/export` before `logs/{id}`, and ids must look like UUIDs, so the export
route is never read as a log id.
"""

from rest_framework.routers import SimpleRouter

from executionlogs.views import ExecutionLogViewSet

router = SimpleRouter(trailing_slash=False)
router.register("logs", ExecutionLogViewSet, basename="log")

urlpatterns = router.urls
