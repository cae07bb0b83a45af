from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = _("Jobs")

    def ready(self) -> None:
        from jobs import outbox, rebinding, timeouts
        from tasks import editing

        if timeouts.after_stop_sent not in outbox.STOP_SENT_HOOKS:
            outbox.STOP_SENT_HOOKS.append(timeouts.after_stop_sent)
        if rebinding.follow_task not in editing.BINDING_HOOKS:
            editing.BINDING_HOOKS.append(rebinding.follow_task)
