from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class YingdaoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "yingdao"
    verbose_name = _("Yingdao Open API")
