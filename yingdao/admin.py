"""The admin's view of the Yingdao tenant: the robots client/list reports, and one click to add
a robot the workbench does not know yet as a `yingdao` robot account."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import Account, DispatchBackend
from accounts.presence import PRESENCE_CHOICES
from rpa_workbench.admin_site import ReadOnlyAdminMixin
from rpa_workbench.badges import choice_badge
from rpa_workbench.errors import ApiError
from yingdao.clients_sync import status_label
from yingdao.models import RobotClient

# A robot on the Yingdao backend is reached through the Open API, not host:port; the account
# still needs both (they name it in task_control). Edit them afterwards if you like.
PLACEHOLDER_IP = "0.0.0.0"
PLACEHOLDER_PORT = 1


class KnownFilter(admin.SimpleListFilter):
    title = _("workbench account")
    parameter_name = "known"

    def lookups(self, request, model_admin):
        return [("no", _("not a workbench account yet")), ("yes", _("a workbench account"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(account__isnull=True)
        if self.value() == "yes":
            return queryset.filter(account__isnull=False)
        return queryset


def add_robot_account(robot: RobotClient) -> Account:
    """A `yingdao` account for `robot` (named after it, on its client IP when it is one)."""
    host_ip = robot.client_ip or PLACEHOLDER_IP
    try:
        Account._meta.get_field("host_ip").clean(host_ip, None)
    except Exception:  # not an IP address (Yingdao may list a host name)
        host_ip = PLACEHOLDER_IP
    account = account_services.create_account(
        shadow_bot_account=robot.name[:100],
        host_ip=host_ip,
        port=PLACEHOLDER_PORT,
        dispatch_backend=DispatchBackend.YINGDAO,
        yingdao_account_name=robot.name,
    )
    RobotClient.objects.filter(pk=robot.pk, account__isnull=True).update(account=account)
    return account


@admin.register(RobotClient)
class RobotClientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "status_display", "presence_badge", "client_ip", "machine_name", "account", "synced_at"]
    list_filter = [KnownFilter, "presence"]
    search_fields = ["name", "machine_name", "client_ip", "robot_client_uuid"]
    list_select_related = ["account"]
    actions = ["add_as_robot_account"]

    @admin.display(ordering="status", description=_("Yingdao status"))
    def status_display(self, obj: RobotClient) -> str:
        return status_label(obj.status)

    @admin.display(ordering="presence", description=_("presence"))
    def presence_badge(self, obj: RobotClient):
        return choice_badge(PRESENCE_CHOICES, obj.presence)

    def has_add_as_robot_account_permission(self, request) -> bool:
        return request.user.has_perm("accounts.add_account")

    @admin.action(description=_("Add as robot account (Yingdao backend)"), permissions=["add_as_robot_account"])
    def add_as_robot_account(self, request, queryset):
        already_matched = queryset.filter(account__isnull=False).exists()  # before adding any
        for robot in queryset.filter(account__isnull=True):
            try:
                account = add_robot_account(robot)
            except ApiError as exc:
                failed = gettext("%(subject)s: %(outcome)s") % {"subject": robot.name, "outcome": exc.message}
                self.message_user(request, failed, messages.ERROR)
                continue
            added = gettext("%(robot)s: added as robot account %(account)s") % {
                "robot": robot.name, "account": account.task_control
            }
            self.message_user(request, added, messages.SUCCESS)
        if already_matched:
            self.message_user(request, gettext("robots already matched to an account were left alone"), messages.INFO)
