"""The robot-control soak of issue 22: the production layout under an ordinary mix of operations.

It starts everything itself, on loopback only:
- a fresh PostgreSQL database `<DATABASE_URL's name>_soak` (dropped and created, migrated);
- `--servers` Daphne processes (`python -m rpa_workbench.serve`, embedded dispatcher and
  scheduler on, as in production);
- a recording relay with `--robots` simulated robots behind it (rpa_workbench/testing/fleet.py):
  they confirm STARTs and STOPs, heartbeat while running, report results (some failed), send
  duplicate and late reports, heartbeats at the moment of a report, and reports for stopped runs;
- `--drivers` operator threads issuing random starts (task and job API), stops, force stops
  (job and task API), cancels, retries and task edits through the REST API for `--seconds`,
  round robin over the servers;
- `--pools` robot pools (API.md §12) over the robots, each with a task that runs on any of its
  robots (max_parallel_jobs 2..4): starts of those queue jobs for any member, `scope: all` starts
  one per member, their stops reach every robot running them; the invariants add "never more
  than max_parallel_jobs of a task, nor two on one robot" and "one START per job".
Then it waits for quiescence (every job final, the fleet idle; at most `--quiesce-seconds`),
stops the servers and checks the invariants (rpa_workbench/testing/invariants.py), printing each
with its count. Exit status 1 when one fails (0 with `--report-only`).

    DATABASE_URL=postgres://rpa@127.0.0.1:55432/rpa .venv/bin/python bench/soak.py --seconds 120
    ... bench/soak.py --seconds 30 --seed 7 --keep   # keep the database and the server logs

The seeded RNG (`--seed`, printed) decides the operations and the fleet's behaviour; thread
timing still varies from run to run. Traffic is bounded: `--drivers` threads with a think time,
at most one active job per task, and everything stops by itself after `--seconds` plus the
quiescence wait.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BASE_DIR))

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import requests  # noqa: E402

from rpa_workbench.testing.fleet import Fleet, FleetBehaviour  # noqa: E402

logger = logging.getLogger("soak")
WEBHOOK_TOKEN = "soak-webhook-secret"
PRIORITIES = ("high", "normal", "low")
HOT_ROBOTS, HOT_SHARE = 4, 0.4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120, help="how long the operators act (default 120)")
    parser.add_argument("--robots", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=3, help="tasks per robot (default 3)")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--pools", type=int, default=2, help="robot pools, each with one pool task (default 2)")
    parser.add_argument("--drivers", type=int, default=3, help="operator threads (default 3)")
    parser.add_argument("--think", default="0.05-0.3", help="seconds between one driver's operations")
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--quiesce-seconds", type=float, default=120)
    parser.add_argument("--grace", type=float, default=None,
                        help="a START arriving this long after its job ended was in flight when it ended "
                             "(default: IN_FLIGHT_GRACE of rpa_workbench/testing/invariants.py, 0.25 s)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="a PostgreSQL server (default DATABASE_URL); the soak uses <its name>_soak")
    parser.add_argument("--keep", action="store_true", help="keep the soak database and the server logs")
    parser.add_argument("--report-only", action="store_true", help="print the invariants, exit 0 even if one fails")
    return parser.parse_args()


# -- setting up ------------------------------------------------------------------------------------
def fresh_database(url: str) -> str:
    """Drop and create `<name>_soak` on the server of `url`; return its URL."""
    import psycopg

    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the soak needs PostgreSQL: set DATABASE_URL=postgres://… (or --database-url)")
    split = urlsplit(url)
    name = split.path.lstrip("/") + "_soak"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(split._replace(path=f"/{name}"))


def drop_database(soak_url: str) -> None:
    import psycopg

    split = urlsplit(soak_url)
    name = split.path.lstrip("/")
    with psycopg.connect(urlunsplit(split._replace(path="/postgres")), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str, work_dir: Path, relay_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings",
        "RPA_VAR_DIR": str(work_dir / "var"),
        "RPA_MEDIA_ROOT": str(work_dir / "media"),
        "RPA_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "RPA_RELAY_URL": relay_url,
        "RPA_EMBEDDED_DISPATCHER": "true",
        "RPA_EMBEDDED_SCHEDULER": "true",
        "RPA_EMBEDDED_ALERTS": "false",
        "RPA_DISPATCHER_INTERVAL": "0.5",
        # Short windows so that a lost confirm ends its job within the quiescence wait.
        "RPA_START_CONFIRM_SECONDS": "15",
        "RPA_START_PENDING_SECONDS": "10",
        "RPA_HEARTBEAT_TIMEOUT": "60",
        "RPA_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def prepare(env: dict[str, str], robots: int, tasks: int, rng: random.Random, pools: int = 0) -> tuple[str, list[tuple[str, str, int]]]:
    """Migrate; create the robots, their tasks, the pools and their tasks, and an admin; return
    (JWT, robots). Pool k takes every (pools)th robot from k on, so pools do not overlap."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections, transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Account
    from tasks.models import Task

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        accounts = [
            Account.objects.create(shadow_bot_account=f"soak_bot_{n:02d}", host_ip=f"10.77.0.{n + 1}", port=8000)
            for n in range(robots)
        ]
        for account in accounts:
            for n in range(tasks):
                Task.objects.create(
                    account=account, task_name=f"Soak {account.shadow_bot_account} {n}", app_name=f"soak_app_{n}",
                    priority=PRIORITIES[n % 3], max_retries=rng.choice((0, 0, 1, 2)), retry_delay_seconds=2,
                    run_timeout_seconds=600, wait_timeout_seconds=600,
                )
        prepare_pools(accounts, pools, rng)
    admin = get_user_model().objects.create_superuser("soak_admin", password=None)
    connections.close_all()
    return str(AccessToken.for_user(admin)), [(a.shadow_bot_account, a.host_ip, a.port) for a in accounts]


def prepare_pools(accounts: list, pools: int, rng: random.Random) -> None:
    from pools.models import Pool
    from tasks.models import Task

    for k in range(min(pools, len(accounts))):
        members = accounts[k::pools]
        pool = Pool.objects.create(name=f"soak_pool_{k}")
        pool.accounts.set(members)
        Task.objects.create(
            account=members[0], task_name=f"Soak pool {k}", app_name=f"soak_pool_app_{k}", pool=pool,
            max_parallel_jobs=min(rng.randint(2, 4), len(members)), max_retries=rng.choice((0, 1)),
            retry_delay_seconds=2, run_timeout_seconds=600, wait_timeout_seconds=600,
        )


def start_server(env: dict[str, str], work_dir: Path) -> tuple[subprocess.Popen, str, Path]:
    from rpa_workbench.scaleout import free_port, wait_for

    port = free_port()
    log_path = work_dir / f"daphne_{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 — lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "rpa_workbench.serve", "-b", "127.0.0.1", "-p", str(port), "rpa_workbench.asgi:application"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/health", timeout=60, process=process)
    return process, url, log_path


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the operators ---------------------------------------------------------------------------------
class Driver:
    """Random operator actions through the REST API; every answer and every stop is recorded."""

    OPERATIONS = {"start": 24, "create_job": 16, "stop": 6, "force_stop": 6, "task_stop": 3, "task_force_stop": 3,
                  "cancel": 12, "retry": 8, "edit_task": 8, "pool_start": 6, "pool_start_all": 2}

    def __init__(self, urls: list[str], token: str, seed: int, think: tuple[float, float]):
        self.urls = urls
        self.token = token
        self.think = think
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.answers: list[tuple[str, int]] = []
        self.stops = []  # invariants.OperatorStop
        self.done = Counter()

    def run(self, number: int, until: float) -> None:
        from django.db import connection

        rng = random.Random(self.rng.random())
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        names, weights = zip(*self.OPERATIONS.items(), strict=True)
        try:
            while time.time() < until:
                operation = rng.choices(names, weights)[0]
                url = self.urls[(number + int(rng.random() * 1000)) % len(self.urls)]
                getattr(self, operation)(session, url, rng)
                time.sleep(rng.uniform(*self.think))
        finally:
            connection.close()

    def _call(self, session, operation: str, method: str, url: str, **kwargs) -> tuple[int, dict]:
        try:
            response = session.request(method, url, timeout=60, **kwargs)
            status = response.status_code
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        except (requests.RequestException, ValueError):
            status, body = 0, {}
        with self.lock:
            self.answers.append((f"api {operation}", status))
            self.done[f"{operation} {status}"] += 1
        return status, body

    @staticmethod
    def _pick(rng, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:200])
        return rng.choice(ids) if ids else None

    def _job(self, rng, statuses):
        from jobs.models import Job

        pk = self._pick(rng, Job.objects.filter(status__in=statuses).order_by("-created_at"))
        return Job.objects.filter(pk=pk).values("id", "shadow_bot_account", "task_id").first() if pk else None

    def _task(self, rng, **filters):
        from tasks.models import Task

        if rng.random() < HOT_SHARE:  # operators crowd a few robots: their queues fill up
            filters["account__shadow_bot_account__in"] = [f"soak_bot_{n:02d}" for n in range(HOT_ROBOTS)]
        pk = self._pick(rng, Task.objects.filter(**filters).order_by("created_at"))
        return Task.objects.filter(pk=pk).values("id", "account__shadow_bot_account").first() if pk else None

    def _record_stop(self, at: float, status: int, robot: str, job_id) -> None:
        from rpa_workbench.testing.invariants import OperatorStop

        if status < 300 or status >= 500 or status == 0:  # 2xx, or an outcome we cannot know
            with self.lock:
                self.stops.append(OperatorStop(at, robot, str(job_id) if job_id else None))

    def start(self, session, url, rng) -> None:
        task = self._task(rng)
        if task:
            self._call(session, "start", "POST", f"{url}/api/v1/tasks/{task['id']}/start")

    def create_job(self, session, url, rng) -> None:
        task = self._task(rng)
        if task:
            self._call(session, "create_job", "POST", f"{url}/api/v1/jobs",
                       json={"task_id": str(task["id"]), "priority": rng.choice(PRIORITIES)})

    def _stop_job(self, session, url, rng, operation: str, query: str) -> None:
        job = self._job(rng, ("queued", "dispatched", "running", "stopping"))
        if job:
            at = time.time()
            status, _ = self._call(session, operation, "POST", f"{url}/api/v1/jobs/{job['id']}/stop{query}")
            self._record_stop(at, status, job["shadow_bot_account"], job["id"])
            # A pool job picked while queued names its pool task's own robot until a claim gives
            # it to a member: the stop then reaches that member (right after its START).
            robot = self._robot_of(job["id"])
            if robot and robot != job["shadow_bot_account"]:
                self._record_stop(at, status, robot, job["id"])

    @staticmethod
    def _robot_of(job_id) -> str | None:
        from jobs.models import Job

        return Job.objects.filter(pk=job_id).values_list("shadow_bot_account", flat=True).first()

    def stop(self, session, url, rng) -> None:
        self._stop_job(session, url, rng, "stop", "")

    def force_stop(self, session, url, rng) -> None:
        self._stop_job(session, url, rng, "force_stop", "?force=true")

    def _stop_task(self, session, url, rng, operation: str, path: str) -> None:
        from jobs.models import Job

        job = self._job(rng, ("dispatched", "running", "stopping"))
        if job and job["task_id"]:
            # a pool task's stop reaches every robot running one of its jobs: in case the answer
            # is lost, those running now; the answer names every job it stopped (`jobs`)
            others = list(Job.objects.filter(task_id=job["task_id"], task__pool__isnull=False,
                                             status__in=("dispatched", "running", "stopping"))
                          .exclude(pk=job["id"]).values_list("shadow_bot_account", "id"))
            at = time.time()
            status, body = self._call(session, operation, "POST", f"{url}/api/v1/tasks/{job['task_id']}/{path}")
            # the answer names the job it stopped when it can; else the one that was busy
            self._record_stop(at, status, job["shadow_bot_account"], body.get("job_id") or job["id"])
            stopped = [(item["shadow_bot_account"], item["job_id"]) for item in body.get("jobs", [])]
            for robot, job_id in others + stopped:
                self._record_stop(at, status, robot, job_id)

    def task_stop(self, session, url, rng) -> None:
        self._stop_task(session, url, rng, "task_stop", "stop")

    def task_force_stop(self, session, url, rng) -> None:
        self._stop_task(session, url, rng, "task_force_stop", "force-stop?force=true")

    def _pool_task(self, rng):
        from tasks.models import Task

        pk = self._pick(rng, Task.objects.filter(pool__isnull=False).order_by("created_at"))
        return Task.objects.filter(pk=pk).values("id").first() if pk else None

    def pool_start(self, session, url, rng) -> None:
        task = self._pool_task(rng)
        if task:
            self._call(session, "pool_start", "POST", f"{url}/api/v1/tasks/{task['id']}/start")

    def pool_start_all(self, session, url, rng) -> None:
        task = self._pool_task(rng)
        if task:
            self._call(session, "pool_start_all", "POST", f"{url}/api/v1/tasks/{task['id']}/start", json={"scope": "all"})

    def cancel(self, session, url, rng) -> None:
        job = self._job(rng, ("queued",))
        if job:
            self._call(session, "cancel", "POST", f"{url}/api/v1/jobs/{job['id']}/cancel")

    def retry(self, session, url, rng) -> None:
        job = self._job(rng, ("failed", "stopped", "cancelled"))
        if job:
            self._call(session, "retry", "POST", f"{url}/api/v1/jobs/{job['id']}/retry")

    def edit_task(self, session, url, rng) -> None:
        task = self._task(rng)
        if task:
            self._call(session, "edit_task", "PATCH", f"{url}/api/v1/tasks/{task['id']}",
                       json={"remark": f"soak edit {rng.randint(0, 10**6)}"})


# -- the run ---------------------------------------------------------------------------------------
def wait_quiet(fleet: Fleet, timeout: float) -> float:
    """Until every job is final and the fleet idle (at most `timeout` s); returns the seconds."""
    from django.db import close_old_connections

    from jobs.models import FINAL, Job

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        close_old_connections()
        if not Job.objects.exclude(status__in=FINAL).exists() and fleet.idle(0.1):
            time.sleep(2)  # a duplicate or late report may still be on its way
            if not Job.objects.exclude(status__in=FINAL).exists() and fleet.idle(0.1):
                break
        time.sleep(1)
    return time.monotonic() - began


def check(fleet: Fleet, driver: Driver, logs: dict[str, str], grace: float | None) -> list:
    from django.db import close_old_connections

    from rpa_workbench.testing import invariants

    close_old_connections()
    return invariants.run_all(
        commands=fleet.commands, stops=driver.stops, acks=fleet.acks, logs=logs,
        grace=invariants.IN_FLIGHT_GRACE if grace is None else grace,
        answers=driver.answers + [(f"webhook {call.path}", call.status) for call in fleet.calls],
    )


def summary(fleet: Fleet, driver: Driver) -> None:
    from jobs.models import Job

    statuses = Counter(
        f"{s}/{r}" if r else s for s, r in Job.objects.values_list("status", "reason")
    )
    print(f"jobs: {sum(statuses.values())} — " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print("operator answers: " + ", ".join(f"{k} x{v}" for k, v in sorted(driver.done.items())))
    calls = Counter(f"{c.path} {c.status}" for c in fleet.calls)
    print("robot webhooks: " + ", ".join(f"{k} x{v}" for k, v in sorted(calls.items())))
    commands = Counter(f"{c.target} {c.status}" for c in fleet.commands)
    print("relay commands: " + ", ".join(f"{k} x{v}" for k, v in sorted(commands.items()))
          + f"; reports acknowledged {len(fleet.acks)}, never acknowledged {len(fleet.unacknowledged)}")


def timelines(fleet: Fleet, driver: Driver, results: list, around: float = 3.0) -> None:
    """For each robot a failed check names: what reached it, what operators asked and the
    control rows written for it, 3 s either side of each example, so a red soak explains itself."""
    for result in (r for r in results if not r.passed):
        for example in result.examples[:3]:
            app, _, robot = next((word for word in example.split() if "@" in word), "").partition("@")
            target = {"START": "START", "STOP": "ALL"}.get(example.split()[0])
            matching = [c.at for c in fleet.commands
                        if c.robot == robot and c.target == target and c.app_name == app]
            for at in matching[:3]:
                timeline(fleet, driver, robot, at, around, example)


def timeline(fleet: Fleet, driver: Driver, robot: str, at: float, around: float, example: str) -> None:
    """What reached `robot`, what operators asked and its control rows, `around` s either side of `at`."""
    from tasks.models import ControlRequest

    print(f"  timeline of {robot} around {example!r}:")
    for command in (c for c in fleet.commands if c.robot == robot and abs(c.at - at) <= around):
        print(f"    {command.at - at:+.3f}s relay {command.target} {command.app_name} → {command.status}")
    for call in (c for c in fleet.calls if c.robot == robot and abs(c.at - at) <= around):
        print(f"    {call.at - at:+.3f}s webhook {call.path} {call.detail} → {call.status} ({call.seconds:.2f}s)")
    for stop in (s for s in driver.stops if s.robot == robot and abs(s.at - at) <= around):
        print(f"    {stop.at - at:+.3f}s operator stop of job {stop.job_id}")
    rows = ControlRequest.objects.filter(job__shadow_bot_account=robot).select_related("job").order_by("created_at")
    for row in (r for r in rows if abs(r.created_at.timestamp() - at) <= around):
        sent = f"sent {row.sent_at.timestamp() - at:+.3f}s" if row.sent_at else "not sent"
        print(f"    {row.created_at.timestamp() - at:+.3f}s {row.action} from {row.source} for job {row.job.pk} "
              f"({row.job.app_name}, now {row.job.status}/{row.job.reason}), {row.outcome}, {sent}")


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed)
    low, _, high = args.think.partition("-")
    import wrk_bench  # the bench folder's own module (load)

    work_dir = Path(tempfile.mkdtemp(prefix="rpa-soak-"))
    soak_url = fresh_database(args.database_url)
    fleet = Fleet([], WEBHOOK_TOKEN, [], seed=rng.randrange(10**9), behaviour=FleetBehaviour(slow_rate=0.05))
    relay = fleet.start()
    env = server_env(soak_url, work_dir, fleet.url)
    token, robots = prepare(env, args.robots, args.tasks, rng, args.pools)
    fleet.add_robots(robots)
    servers = []
    failed = True
    try:
        servers = [start_server(env, work_dir) for _ in range(args.servers)]
        fleet.servers = [url for _, url, _ in servers]
        driver = Driver(fleet.servers, token, rng.randrange(10**9), (float(low), float(high or low)))
        print(f"soak: seed {seed}, {args.robots} robots x {args.tasks} tasks, {args.pools} pools, {args.servers} servers, "
              f"{args.drivers} operator threads for {args.seconds:.0f} s, PostgreSQL {soak_url.rsplit('/', 1)[-1]}; "
              f"load average {wrk_bench.load()}", flush=True)
        began = time.time()
        threads = [threading.Thread(target=driver.run, args=(n, began + args.seconds)) for n in range(args.drivers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"operators done after {time.time() - began:.0f} s; load average {wrk_bench.load()}", flush=True)
        waited = wait_quiet(fleet, args.quiesce_seconds)
        print(f"quiescence after {waited:.0f} s more", flush=True)
        fleet.close()
        for process, _, _ in servers:
            stop_server(process)
        logs = {path.name: path.read_text(errors="replace") for _, _, path in servers}
        summary(fleet, driver)
        results = check(fleet, driver, logs, args.grace)
        for result in results:
            print(result.line())
        failed = not all(result.passed for result in results)
        if failed:
            timelines(fleet, driver, results)
        print(("FAIL" if failed else "PASS") + f" (seed {seed}; load average {wrk_bench.load()})")
    finally:
        for process, _, _ in servers:
            if process.poll() is None:
                stop_server(process)
        relay.shutdown()
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: database {soak_url}, server logs in {work_dir}")
        else:
            drop_database(soak_url)
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if args.report_only or not failed else 1


if __name__ == "__main__":
    sys.exit(main())
