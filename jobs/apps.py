from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"

    def ready(self) -> None:
        from jobs import outbox, timeouts

        if timeouts.after_stop_sent not in outbox.STOP_SENT_HOOKS:
            outbox.STOP_SENT_HOOKS.append(timeouts.after_stop_sent)
