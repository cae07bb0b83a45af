"""The robot-control invariants of issue 22, checked from what happened: the jobs' timestamps,
the commands the relay received (rpa_workbench/testing/fleet.py), the operators' stop requests,
every HTTP answer and the servers' logs. Used by bench/soak.py and the mixed-operation tests.

Each check returns a `Check` (name, count of violations, a few examples); a count of 0 passes.
Times are epoch seconds on one machine's clock (server, relay and driver share it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rpa_workbench.testing.fleet import Command


@dataclass
class Check:
    name: str
    count: int
    examples: list[str] = field(default_factory=list)
    checked: int = 0  # how many things were looked at

    @property
    def passed(self) -> bool:
        return self.count == 0

    def line(self) -> str:
        verdict = "ok  " if self.passed else "FAIL"
        shown = f"  e.g. {'; '.join(self.examples[:3])}" if self.examples else ""
        return f"{verdict} {self.name}: {self.count} (of {self.checked} checked){shown}"


@dataclass
class JobRow:
    id: str
    robot: str
    app_name: str
    status: str
    reason: str | None
    source: str
    created_at: float
    dispatched_at: float | None
    started_at: float | None
    finished_at: float | None
    task_id: str | None = None

    @property
    def busy_from(self) -> float | None:
        """When it took a slot of its robot: dispatched, or confirmed without a dispatch."""
        return self.dispatched_at if self.dispatched_at is not None else self.started_at

    def short(self) -> str:
        return f"{self.app_name}@{self.robot} {self.status}/{self.reason or '-'} ({self.source}, {self.id[:8]})"


@dataclass
class OperatorStop:
    """A stop or force stop an operator asked for (2xx or an unknown outcome)."""

    at: float
    robot: str
    job_id: str | None


FINAL = ("completed", "failed", "stopped", "cancelled")


def load_jobs() -> list[JobRow]:
    """Every job, from the database (the same columns GET /api/v1/jobs shows)."""
    from jobs.models import Job

    def epoch(value):
        return value.timestamp() if value is not None else None

    rows = Job.objects.order_by("created_at").values(
        "id", "shadow_bot_account", "app_name", "status", "reason", "source", "created_at", "dispatched_at",
        "started_at", "finished_at", "task_id",
    )
    return [
        JobRow(str(r["id"]), r["shadow_bot_account"], r["app_name"], r["status"], r["reason"], r["source"],
               epoch(r["created_at"]), epoch(r["dispatched_at"]), epoch(r["started_at"]), epoch(r["finished_at"]),
               str(r["task_id"]) if r["task_id"] else None)
        for r in rows
    ]


def stored_reports(execution_ids: Iterable[str]) -> dict[str, list[str]]:
    """execution_id → the ids of the execution logs stored for it."""
    from executionlogs.models import ExecutionLog

    stored: dict[str, list[str]] = defaultdict(list)
    for log_id, execution_id in ExecutionLog.objects.filter(execution_id__in=list(execution_ids)).values_list(
        "id", "execution_id"
    ):
        stored[execution_id].append(str(log_id))
    return stored


# -- the checks ------------------------------------------------------------------------------------
def no_server_errors(statuses: Iterable[tuple[str, int]]) -> Check:
    """(what, status) of every answer; 5xx and no answer at all (0) both count."""
    seen = list(statuses)
    bad = [(what, status) for what, status in seen if status >= 500 or status == 0]
    by_kind: dict[str, int] = defaultdict(int)
    for what, status in bad:
        by_kind[f"{what} {status or 'no answer'}"] += 1
    return Check("responses 5xx (or no answer)", len(bad), [f"{k} x{v}" for k, v in sorted(by_kind.items())], len(seen))


CHAINED = re.compile(r"direct cause of the following exception|During handling of the above exception")


def clean_logs(logs: dict[str, str]) -> list[Check]:
    deadlocks, tracebacks = [], []
    for name, text in logs.items():
        found = [m.group(0).strip() for m in re.finditer(r".*deadlock detected.*", text)]
        # psycopg's own error is chained under Django's: one deadlock, two lines
        deadlocks += [f"{name}: {line[:120]}" for line in found if not line.startswith("psycopg.errors.")]
        starts = [m.end() for m in re.finditer(r"Traceback \(most recent call last\)", text)]
        # a chained exception prints one traceback per link: count the chain once, by its last link
        last_links = [p for p, following in zip(starts, [*starts[1:], None][:len(starts)], strict=True)
                      if following is None or not CHAINED.search(text, p, following)]
        tracebacks += [f"{name}: {_after(text, p)}" for p in last_links]
    return [
        Check('"deadlock detected" in a server log', len(deadlocks), deadlocks, len(logs)),
        Check("tracebacks in a server log", len(tracebacks), _distinct(tracebacks), len(logs)),
    ]


def _after(text: str, position: int) -> str:
    """The exception line that ends a traceback starting at `position`."""
    for line in text[position:position + 20000].splitlines():
        if line and not line.startswith((" ", "\t", "Traceback")) and ("Error" in line or "Exception" in line):
            return line.strip()[:160]
    return "?"


def _distinct(items: list[str]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return [f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]


# A transition stamps its time when its transaction starts, which may wait for a lock the other
# job's transaction holds: busy intervals overlapping by less than this are stamps, not robots.
OVERLAP_SLACK = 0.25
# The sender re-reads a START's job under the robot's lock, then sends outside any transaction
# (never a network call in one): a force stop committing in between ends the job while its START
# is on the wire, and its STOP, queued behind that START, stops the run. The relay then records
# the START a few milliseconds after the job's end stamp. A START arriving within this of its
# job's end was in flight when the job ended, not sent for an ended job (seen once in a CI soak:
# 0.00 s after a force stop).
IN_FLIGHT_GRACE = 0.25


def _beside(jobs: list[JobRow], now: float, slack: float):
    """Each job (by the start of its busy time) with the jobs still busy when it began (by more
    than `slack`)."""
    active: list[JobRow] = []
    for job in sorted(jobs, key=lambda j: j.busy_from):
        active = [a for a in active if (a.finished_at if a.finished_at is not None else now) > job.busy_from + slack]
        yield job, list(active)
        active.append(job)


def busy_overlaps(jobs: list[JobRow], max_jobs: dict[str, int], now: float, slack: float = OVERLAP_SLACK) -> Check:
    """Per robot, never more busy jobs than its max_concurrent_jobs: a job is busy from its
    dispatch (or confirm) to its end."""
    per_robot: dict[str, list[JobRow]] = defaultdict(list)
    for job in jobs:
        if job.busy_from is not None:
            per_robot[job.robot].append(job)
    examples, count, checked, by_robot_jobs = [], 0, 0, 0
    for robot, robot_jobs in per_robot.items():
        for job, active in _beside(robot_jobs, now, slack):
            checked += 1
            if len(active) >= max_jobs.get(robot, 1):
                count += 1
                by_robot_jobs += any(j.source == "robot" for j in (job, *active))
                overlap = min((a.finished_at if a.finished_at is not None else now) for a in active) - job.busy_from
                examples.append(f"{job.short()} busy {overlap:.2f}s beside {', '.join(a.short() for a in active)}")
    return Check(f"jobs busy beside more than max_concurrent_jobs others of their robot (overlap > {slack}s; "
                 f"{by_robot_jobs} with a job a robot's report or confirm created)", count, examples, checked)


# A design may stamp `dispatched_at` when the send's outcome is recorded, just after the relay
# answered: a START matches a job stamped up to this long after it arrived.
DISPATCH_STAMP_SLACK = 0.5


def _job_of_start(command: Command, by_task: dict[tuple[str, str], list[JobRow]]) -> JobRow | None:
    """The job a START was sent for: the task's last job dispatched before the START arrived;
    only when there is none, the first one stamped within DISPATCH_STAMP_SLACK after it. (The
    next job of the task, dispatched a moment after this START, is not the one it started.)"""
    jobs = [j for j in by_task.get((command.robot, command.app_name.lower()), []) if j.dispatched_at is not None]
    before = [j for j in jobs if j.dispatched_at <= command.at]
    if before:
        return max(before, key=lambda j: j.dispatched_at)
    just_after = [j for j in jobs if j.dispatched_at <= command.at + DISPATCH_STAMP_SLACK]
    return min(just_after, key=lambda j: j.dispatched_at) if just_after else None


def _by_task(jobs: list[JobRow]) -> dict[tuple[str, str], list[JobRow]]:
    by_task: dict[tuple[str, str], list[JobRow]] = defaultdict(list)
    for job in jobs:
        by_task[(job.robot, job.app_name.lower())].append(job)
    return by_task


def starts_for_ended_jobs(commands: list[Command], jobs: list[JobRow], grace: float = IN_FLIGHT_GRACE) -> Check:
    """The relay never receives a START for a job that had already ended (completed, failed,
    cancelled, stopped, force-stopped) or for no dispatched job at all. `grace`: a START arriving
    at most this long after its job's end counts as in flight when the job ended."""
    by_task = _by_task(jobs)
    starts = [c for c in commands if c.target == "START"]
    examples, count = [], 0
    for command in starts:
        job = _job_of_start(command, by_task)
        if job is None:
            count += 1
            examples.append(f"START {command.app_name}@{command.robot} with no job dispatched before it")
        elif job.finished_at is not None and job.finished_at + grace < command.at:
            count += 1
            examples.append(f"START {command.at - job.finished_at:.2f}s after the end of {job.short()}")
    return Check("STARTs received for a job that had already ended", count, examples, len(starts))


def starts_to_busy_robots(commands: list[Command]) -> Check:
    starts = [c for c in commands if c.target == "START"]
    refused = [c for c in starts if c.refused]
    return Check("STARTs that reached a robot busy with another app", len(refused),
                 [f"START {c.app_name}@{c.robot} (busy with {c.busy_with})" for c in refused], len(starts))


def stops_after_next_start(commands: list[Command], jobs: list[JobRow], stops: list[OperatorStop]) -> Check:
    """A STOP (target=ALL) reaching a robot after a START it accepted must have been asked for
    by an operator after that START (or for that START's job)."""
    by_task = _by_task(jobs)
    last_start: dict[str, Command] = {}
    asked: dict[str, list[OperatorStop]] = defaultdict(list)
    for stop in stops:
        asked[stop.robot].append(stop)
    examples, count, checked = [], 0, 0
    for command in sorted(commands, key=lambda c: c.at):
        if command.target == "START" and command.started_run:
            last_start[command.robot] = command
        elif command.target == "ALL" and command.robot in last_start:
            checked += 1
            start = last_start[command.robot]
            job = _job_of_start(start, by_task)
            job_id = job.id if job is not None else None
            if any(s.at <= command.at and (s.at >= start.at or (job_id and s.job_id == job_id)) for s in asked[command.robot]):
                continue
            count += 1
            killed = f", ended the run of {command.stopped_run}" if command.stopped_run else ", robot idle"
            examples.append(f"STOP {command.app_name}@{command.robot} {command.at - start.at:.2f}s after START "
                            f"{start.app_name}{killed}")
    return Check("STOPs after the robot's next START that no operator asked for after it", count, examples, checked)


def all_final(jobs: list[JobRow]) -> Check:
    open_jobs = [j for j in jobs if j.status not in FINAL]
    return Check("jobs not final after quiescence", len(open_jobs), [j.short() for j in open_jobs], len(jobs))


def reports_stored_once(acks: dict[str, list[str]], stored: dict[str, list[str]]) -> Check:
    """Every acknowledged report is one execution log, and every answer named that log."""
    examples = []
    for execution_id, log_ids in acks.items():
        rows = stored.get(execution_id, [])
        if len(rows) != 1 or set(log_ids) != set(rows):
            examples.append(f"{execution_id[:8]}: answered {sorted(set(log_ids))}, stored {rows}")
    return Check("acknowledged reports not stored exactly once", len(examples), examples, len(acks))


def reports_without_a_run(jobs: list[JobRow]) -> Check:
    """A job an operator or a retry created is ended by a robot's report only after it was sent
    (issue 22 item 5: a late report completed a retry that never ran)."""
    ended = [j for j in jobs if j.status in ("completed", "failed") and j.source != "robot"]
    bad = [j for j in ended if j.busy_from is None and (j.reason is None or j.reason.startswith("robot_"))]
    return Check("jobs ended by a report although never dispatched", len(bad), [j.short() for j in bad], len(ended))


def completed_with_a_reason(jobs: list[JobRow]) -> Check:
    """A completed job carries no failure reason (issue 22 item 6)."""
    completed = [j for j in jobs if j.status == "completed"]
    bad = [j for j in completed if j.reason]
    return Check("completed jobs that keep a failure reason", len(bad), [j.short() for j in bad], len(completed))


def parallel_overlaps(jobs: list[JobRow], caps: dict[str, int], now: float, slack: float = OVERLAP_SLACK) -> Check:
    """A pool task (`caps`: task id → max_parallel_jobs) never has more busy jobs than its
    max_parallel_jobs, nor two busy on one robot (API.md §12)."""
    per_task: dict[str, list[JobRow]] = defaultdict(list)
    for job in jobs:
        if job.task_id in caps and job.busy_from is not None and job.source != "robot":
            per_task[job.task_id].append(job)
    examples, count, checked = [], 0, 0
    for task_id, task_jobs in per_task.items():
        for job, active in _beside(task_jobs, now, slack):
            checked += 1
            if len(active) >= caps[task_id] or any(a.robot == job.robot for a in active):
                count += 1
                examples.append(f"{job.short()} beside {', '.join(a.short() for a in active)}")
    return Check("pool jobs busy beyond their task's max_parallel_jobs or twice on one robot", count, examples, checked)


def starts_per_job() -> Check:
    """No job was given two STARTs (two dispatchers never claim one job twice)."""
    from django.db.models import Count

    from tasks.models import ControlRequest

    rows = ControlRequest.objects.filter(action="start", job__isnull=False).values("job_id").annotate(n=Count("pk"))
    twice = [f"job {str(r['job_id'])[:8]}: {r['n']} STARTs" for r in rows if r["n"] > 1]
    return Check("jobs with more than one START command", len(twice), twice, len(rows))


def run_all(*, commands: list[Command], answers: list[tuple[str, int]], stops: list[OperatorStop],
            logs: dict[str, str], acks: dict[str, list[str]], grace: float = IN_FLIGHT_GRACE) -> list[Check]:
    """Every check, on the database as it is now (after quiescence and the servers stopped)."""
    import time

    from accounts.models import Account
    from tasks.models import Task

    jobs = load_jobs()
    slots = dict(Account.objects.values_list("shadow_bot_account", "max_concurrent_jobs"))
    caps = {str(pk): cap for pk, cap in Task.objects.filter(pool__isnull=False).values_list("pk", "max_parallel_jobs")}
    return [
        parallel_overlaps(jobs, caps, time.time()),
        starts_per_job(),
        no_server_errors(answers),
        *clean_logs(logs),
        busy_overlaps(jobs, slots, time.time()),
        starts_for_ended_jobs(commands, jobs, grace),
        starts_to_busy_robots(commands),
        stops_after_next_start(commands, jobs, stops),
        all_final(jobs),
        reports_stored_once(acks, stored_reports(acks)),
        reports_without_a_run(jobs),
        completed_with_a_reason(jobs),
    ]
