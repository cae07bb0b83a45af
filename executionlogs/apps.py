from django.apps import AppConfig


class ExecutionLogsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "executionlogs"
