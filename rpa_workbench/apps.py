from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RpaWorkbenchConfig(AppConfig):
    name = "rpa_workbench"
    verbose_name = _("RPA Workbench")

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db.models.signals import post_migrate, pre_migrate

        from rpa_workbench import events, roles

        # Create missing role groups, and grant the permissions of newly added models, on migrate.
        pre_migrate.connect(roles.remember_permissions_before_migrate, dispatch_uid="rpa_roles_before_migrate")
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="rpa_sync_roles")
        # A request's events are all queued once it has sent its response: deliver them now.
        request_finished.connect(events.wake_streams_after_request, dispatch_uid="rpa_wake_streams")
