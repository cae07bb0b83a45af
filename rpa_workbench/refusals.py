"""What an operator reads when the domain refuses something: the API's error codes in the
admin's language.

The API answers in English (`{code, message}`, API.md §0) and keeps doing so; the admin shows
the same refusal translated, chosen by its stable code, never by parsing the English text. A
code this table does not know is shown with its (English) message, so nothing is hidden.
Audit rows store refusals as `CODE: message` (jobs.audit); `explain_stored` reads those back.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# Codes whose meaning needs no detail from the message.
MESSAGES = {
    "TASK_ALREADY_RUNNING": _("the task is already running"),
    "START_PENDING": _("the task already has a start waiting (queued, or sent and not confirmed yet)"),
    "TASK_NOT_RUNNING": _("the task is not running"),
    "JOB_NOT_RUNNING": _("the job is not running"),
    "JOB_NOT_QUEUED": _("the job is no longer queued"),
    "JOB_NOT_RETRYABLE": _("only failed, stopped or cancelled jobs can be retried"),
    "TASK_NOT_FOUND": _("the job's task was deleted"),
    "NOT_FOUND": _("it no longer exists"),
    "RELAY_NOT_CONFIGURED": _("the relay is not configured: set RPA_RELAY_URL to control robots"),
    "TASK_EXISTS": _("this robot account already has a task for this app"),
    "ACCOUNT_EXISTS": _("this robot account (name, host IP and port) already exists"),
    "ACCOUNT_HAS_TASKS": _("this robot account still has tasks: delete or move them first"),
}
# Codes whose message carries a detail worth keeping (what to set, what the backend said).
WITH_DETAIL = {
    "BACKEND_NOT_CONFIGURED": _("the dispatch backend is not configured: %(detail)s"),
    "CONTROL_REQUEST_FAILED": _("the backend refused the request or could not be reached: %(detail)s"),
}
# When the job is known, the refusal names its (translated) status.
WITH_STATUS = {
    "JOB_NOT_RUNNING": _("the job is %(status)s, not running"),
    "TASK_NOT_RUNNING": _("the job is %(status)s, not running"),
    "JOB_NOT_QUEUED": _("the job is %(status)s, not queued"),
    "JOB_NOT_RETRYABLE": _("the job is %(status)s; only failed, stopped or cancelled jobs can be retried"),
}
STORED = re.compile(r"^(?P<code>[A-Z][A-Z_]{2,}): (?P<detail>.*)$", re.DOTALL)


def explain(code: str, message: str, *, status_label: str | None = None) -> str:
    """The refusal `code` (with its English `message`) in the current language."""
    if status_label is not None and code in WITH_STATUS:
        return gettext(str(WITH_STATUS[code])) % {"status": status_label}
    if code in MESSAGES:
        return str(MESSAGES[code])
    if code in WITH_DETAIL:
        detail = message.split(": ", 1)[1] if message.startswith("control request failed: ") else message
        return str(WITH_DETAIL[code]) % {"detail": detail}
    return message


def explain_error(exc, *, status_label: str | None = None) -> str:
    """An ApiError (rpa_workbench.errors) as the admin shows it."""
    return explain(exc.error_code, exc.message, status_label=status_label)


def explain_stored(text: str) -> str:
    """An audit row's `CODE: message` translated; any other text as it is."""
    match = STORED.match(text or "")
    if match is None:
        return text
    return explain(match["code"], match["detail"])
