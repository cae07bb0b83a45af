"""API routes of the tasks app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from tasks.views import TaskViewSet

router = SimpleRouter(trailing_slash=False)
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = router.urls
