from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class YingdaoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "yingdao"
    verbose_name = _("Yingdao Open API")

    def ready(self) -> None:
        from jobs import outbox
        from yingdao import updates

        # A START Yingdao accepted: the callbacks that came before its jobUuid was stored apply now.
        if updates.apply_pending not in outbox.STARTED_HOOKS:
            outbox.STARTED_HOOKS.append(updates.apply_pending)
