"""What an account and a task need to run on the Yingdao backend (API.md §1, §2, §9.3).

One place for the rule, used by the API serializers and the admin forms alike: a `yingdao`
account names its robot's registered Yingdao account (`yingdao_account_name`), and each of its
tasks names the Yingdao app to run (`yingdao_robot_uuid`). Each function returns
{field: message}, empty when all is well.
"""

from __future__ import annotations

from accounts.models import DispatchBackend

MAX_LISTED_TASKS = 5


def account_errors(*, dispatch_backend: str, yingdao_account_name: str, account=None) -> dict[str, str]:
    if dispatch_backend != DispatchBackend.YINGDAO:
        return {}
    if not (yingdao_account_name or "").strip():
        return {
            "yingdao_account_name": "required when dispatch_backend is yingdao: the robot's registered "
            "Yingdao account, e.g. admin@corp"
        }
    if account is not None and account.pk is not None:
        missing = list(
            account.tasks.filter(yingdao_robot_uuid="").values_list("task_name", flat=True)[: MAX_LISTED_TASKS + 1]
        )
        if missing:
            names = ", ".join(missing[:MAX_LISTED_TASKS]) + (", ..." if len(missing) > MAX_LISTED_TASKS else "")
            return {
                "dispatch_backend": f"tasks of this account have no yingdao_robot_uuid ({names}): "
                "set the Yingdao app's UUID on each first"
            }
    return {}


def task_errors(*, account, yingdao_robot_uuid: str) -> dict[str, str]:
    if account is None or account.dispatch_backend != DispatchBackend.YINGDAO:
        return {}
    if not (yingdao_robot_uuid or "").strip():
        return {
            "yingdao_robot_uuid": f"required: account {account.shadow_bot_account} runs on the Yingdao "
            "backend, so the task must name the Yingdao app's UUID"
        }
    return {}
