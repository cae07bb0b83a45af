from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkQueuesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workqueues"
    verbose_name = _("Work queues")

    def ready(self) -> None:
        # An item whose job ended without its result is abandoned in that job transition's
        # transaction (jobs/transitions.py HOOKS), so it is retried exactly once.
        from jobs import transitions
        from workqueues.abandon import job_ended

        if job_ended not in transitions.HOOKS:
            transitions.HOOKS.append(job_ended)
