from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExecutionLogsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "executionlogs"
    verbose_name = _("Execution logs")
