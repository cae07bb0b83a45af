from django.apps import AppConfig


class YingdaoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "yingdao"
    verbose_name = "Yingdao Open API"
