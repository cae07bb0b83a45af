from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResourcesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "resources"
    verbose_name = _("Resources")

    def ready(self):
        from resources.signing import link_problem
        from tasks import parameters

        # A `file` parameter's value is a stored file's path or an http(s) URL (API.md §11).
        if link_problem not in parameters.FILE_RULES:
            parameters.FILE_RULES.append(link_problem)
