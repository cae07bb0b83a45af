from rest_framework.routers import SimpleRouter

from pools.views import PoolViewSet

router = SimpleRouter(trailing_slash=False)
router.register("pools", PoolViewSet, basename="pool")

urlpatterns = router.urls
