from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        # alerts sits above accounts and jobs (docs/architecture.md): it hooks into their
        # changes here instead of being called by them.
        from accounts import presence
        from alerts.sources import presence_flipped

        if presence_flipped not in presence.FLIP_HOOKS:
            presence.FLIP_HOOKS.append(presence_flipped)
        # Job outcomes alert from inside each job transition's transaction (jobs/transitions.py);
        # a scheduled start skipped, from inside the scheduler's claim (jobs/scheduler.py).
        if apps.is_installed("jobs"):
            from alerts.sources import job_transition, schedule_skipped
            from jobs import scheduler, transitions

            if job_transition not in transitions.HOOKS:
                transitions.HOOKS.append(job_transition)
            if schedule_skipped not in scheduler.SKIP_HOOKS:
                scheduler.SKIP_HOOKS.append(schedule_skipped)
