"""One module moves jobs, and so writes Task.status and Account.status: jobs/transitions.py.
This scans the code for any other writer (issue 14 bug 5: status was written in five modules)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "jobs" / "transitions.py"
APPS = ["accounts", "tasks", "executionlogs", "webhooks", "resources", "dashboard", "jobs", "rpa_workbench", "alerts", "yingdao"]

WRITERS = [
    re.compile(r"\.status\s*=\s*(TaskStatus|AccountStatus|JobStatus)\."),
    re.compile(r"(Task|Account|Job)\.objects\b.*\.update\([^)]*\bstatus\s*="),
    re.compile(r"update_fields\s*=\s*\[[^\]]*[\"']status[\"']"),
    re.compile(r"\.(mark_running|mark_pending|record_result)\("),
    re.compile(r"\{\s*[\"']status[\"']\s*:\s*(TaskStatus|AccountStatus)\."),
]


def production_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = set(path.relative_to(ROOT).parts)
            if "tests" in parts or "migrations" in parts or "testing" in parts or path == OWNER:
                continue
            yield path


def test_only_jobs_transitions_writes_a_status():
    offenders = []
    for path in production_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if any(pattern.search(line) for pattern in WRITERS):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "status written outside jobs/transitions.py:\n" + "\n".join(offenders)


def test_the_scan_sees_a_writer():
    assert any(p.search("task.status = TaskStatus.RUNNING") for p in WRITERS)
    assert any(p.search('Task.objects.filter(pk=1).update(status="pending")') for p in WRITERS)
    assert not any(p.search('fields.update(status=status)') for p in WRITERS)  # not a task or account
    assert any(p.search('account.save(update_fields=["status", "updated_at"])') for p in WRITERS)
