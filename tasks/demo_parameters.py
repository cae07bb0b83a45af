"""Demo parameters (API.md §11) for `seed_demo` and `fake_yingdao`: a relay task and a Yingdao
task that take inputs, so `make demo` shows them going out (config/get, Yingdao `params`) and
outputs coming back (the simulator echoes inputs; the fake Yingdao reports counts)."""

from __future__ import annotations

from tasks import parameters as task_parameters

# app name → its parameter definitions (created once: an operator's edits are kept).
DEMO_PARAMETERS = {
    "invoice_download": [
        {"name": "invoice_month", "type": "str", "required": True, "default": "2026-01",
         "description": "month to download (YYYY-MM)"},
        {"name": "max_invoices", "type": "int", "default": 100, "description": "stop after this many"},
        {"name": "include_credit_notes", "type": "bool", "default": False},
        {"name": "portal_password", "type": "str", "secret": True, "default": "demo-portal-password",
         "description": "tax portal password (secret: only the robot reads it)"},
    ],
    "export_orders": [
        {"name": "order_date", "type": "str", "required": True, "default": "2026-01-21",
         "description": "business day to export"},
        {"name": "shop", "type": "str", "default": "demo"},
    ],
}  # fmt: skip


def seed(tasks) -> int:
    """Give each demo task listed above its parameters if it has none; how many got them."""
    seeded = 0
    for task in tasks:
        wanted = DEMO_PARAMETERS.get(task.app_name)
        if wanted and not task.parameters.exists():
            task_parameters.replace(task, task_parameters.definitions(wanted))
            seeded += 1
    return seeded


def yingdao_params(definitions: list[dict]) -> list[dict]:
    """The same list as Yingdao's queryRobotParam answers it (for the fake tenant)."""
    return [
        {"name": d["name"], "type": d.get("type", "str"), "value": "" if d.get("secret") else d.get("default", ""),
         "description": d.get("description", "")}
        for d in definitions
    ]  # fmt: skip
