"""HTTP throughput of the hot paths, loaded by wrk (not a test: it prints figures).

wrk is a C load generator (Debian: `apt-get install wrk`); it costs the server's cores far less
than a Python client, so what it measures is the server. This script:

1. makes a fresh SQLite file in a temporary directory, migrates it, adds one robot account with
   its task, 19 more accounts (20 in all: one page) and an admin user;
2. starts the real app under Daphne on it (as the live tests do; `--floor` serves
   bench/floor_app.py instead: Daphne with no Django and no database);
3. runs `wrk -t2 -c16 -d<seconds>s` on each path: distinct execution-complete webhooks
   (bench/wrk_webhook.lua), then the lists and dashboard reads with a JWT (`GET /api/v1/accounts`,
   `/tasks`, `/jobs`, `/logs`, `/dashboard/stats`; `--revalidate` adds each list again with the
   `If-None-Match` a browser sends, answered 304 from the list cache), then `GET /health`;
4. prints req/s, p50/p99, errors, the server's CPU time per request (the figure that least
   depends on what else the machine is doing), and the number of logs in the database afterwards, which must
   equal the webhook run's 2xx count plus the webhooks still in flight when wrk stopped (at most
   one per connection: wrk stops on the clock and drops their answers, the server still writes
   them). The Lua script records the log id of every 2xx answer, and every one must be stored.

    .venv/bin/python bench/wrk_bench.py                    # 10 s per path
    .venv/bin/python bench/wrk_bench.py --seconds 5 --connections 8
    .venv/bin/python bench/wrk_bench.py --floor            # the floor: bench/floor_app.py
    .venv/bin/python bench/wrk_bench.py --only webhook --only lists --revalidate
    DATABASE_URL=postgres://rpa@127.0.0.1:55432/bench .venv/bin/python bench/wrk_bench.py

With DATABASE_URL set to PostgreSQL it uses that (empty) database instead of a temporary file.
The load average is printed before and after: on a shared machine the figures are indicative.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_webhook.lua"
ACCOUNT = "bench_bot"
APP = "bench_app"
ACCOUNTS = 20
# The reads the SPA refreshes (the list cache serves them: rpa_workbench/list_cache.py).
READS = {
    "accounts": "/api/v1/accounts",
    "tasks": "/api/v1/tasks",
    "jobs": "/api/v1/jobs",
    "logs": "/api/v1/logs",
    "stats": "/api/v1/dashboard/stats",
}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepare(work_dir: Path, token: str) -> str:
    """Configure Django on a fresh database, migrate it, add the accounts, the robot's task and an
    admin; return an access JWT for the admin."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = f"sqlite:///{work_dir / 'wrk.sqlite3'}"
    os.environ["RPA_VAR_DIR"] = str(work_dir / "var")
    os.environ["RPA_MEDIA_ROOT"] = str(work_dir / "media")
    os.environ["RPA_WEBHOOK_TOKEN"] = token
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = "rpa_workbench.settings"
    os.environ.setdefault("RPA_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Account
    from tasks.models import Task

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # RPA_LIST_CACHE=database: its table
    robot = Account.objects.create(shadow_bot_account=ACCOUNT, host_ip="10.0.0.1", port=8000, status="running")
    Task.objects.create(task_name="Bench", account=robot, app_name=APP, status="running")
    for index in range(1, ACCOUNTS):
        Account.objects.create(shadow_bot_account=f"bot_{index:02d}", host_ip=f"10.0.1.{index}", port=8000)
    admin = get_user_model().objects.create_superuser("bench", "bench@example.com", secrets.token_urlsafe(16))
    return str(AccessToken.for_user(admin))


def start_server(work_dir: Path, token: str, floor: bool):
    from rpa_workbench.testing import live_server

    env = {"RPA_WEBHOOK_TOKEN": token, "RPA_LOG_LEVEL": "WARNING"}
    if not floor:
        return live_server.start_daphne(work_dir, env)
    real_popen = live_server.subprocess.Popen

    def popen(command, **kwargs):  # `... rpa_workbench.asgi:application` → the floor app
        return real_popen([*command[:-1], "bench.floor_app:application"], **kwargs)

    live_server.subprocess.Popen = popen
    try:
        return live_server.start_daphne(work_dir, env)
    finally:
        live_server.subprocess.Popen = real_popen


@contextlib.contextmanager
def served(*, floor: bool = False) -> Iterator[tuple[Any, str, str, Path]]:
    """A fresh database (`prepare`) and its server: (server, admin JWT, webhook token, work dir);
    both gone afterwards."""
    work_dir = Path(tempfile.mkdtemp(prefix="rpa_wrk_"))
    token = secrets.token_urlsafe(24)
    server = None
    try:
        jwt = prepare(work_dir, token)
        server = start_server(work_dir, token, floor)
        yield server, jwt, token, work_dir
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse(output: str) -> dict[str, float]:
    """The figures of `wrk --latency` output."""
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests": total,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", output).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", output).group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (and its reaped children) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, args: argparse.Namespace, extra: list[str], env: dict[str, str] | None = None) -> dict:
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "--timeout", "5s",
        *extra, url,
    ]
    cpu_before = cpu_seconds(args.server_pid)
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True)
    figures = parse(result.stdout)
    figures["cpu_ms"] = (cpu_seconds(args.server_pid) - cpu_before) * 1000 / max(figures["requests"], 1)
    return figures


def check_logs(figures: dict, ids_file: Path, connections: int) -> None:
    """Every acknowledged log is stored once; the only others are the ones wrk left in flight."""
    import time

    from executionlogs.models import ExecutionLog

    time.sleep(1)  # the requests wrk dropped at its stop finish on the server
    acknowledged = set(ids_file.read_text().split())
    ok = figures["requests"] - figures["non2xx"]
    logs = ExecutionLog.objects.count()
    stored = sum(
        ExecutionLog.objects.filter(pk__in=chunk).count()
        for chunk in (sorted(acknowledged)[i : i + 500] for i in range(0, len(acknowledged), 500))
    )
    in_flight = logs - ok
    verdict = "OK" if stored == ok == len(acknowledged) and 0 <= in_flight <= connections else "MISMATCH"
    print(
        f"{'':<28} logs in the database: {logs} = 2xx {ok} + {in_flight} in flight at wrk's stop;"
        f" acknowledged logs stored: {stored}/{len(acknowledged)}  {verdict}"
    )


def report(name: str, figures: dict) -> None:
    errors = figures["non2xx"] + figures["socket_errors"]
    print(
        f"{name:<28} {figures['rps']:8.0f} req/s   p50 {figures['p50']:7.1f} ms   p99 {figures['p99']:7.1f} ms"
        f"   errors {errors} (non-2xx {figures['non2xx']}, socket {figures['socket_errors']})"
        f"   requests {figures['requests']}   server CPU {figures['cpu_ms']:.2f} ms/request"
    )


def run_read(base: str, path: str, jwt: str, args: argparse.Namespace) -> None:
    """One read under wrk; with `--revalidate`, again with the ETag of its first answer."""
    import urllib.request

    auth = f"Authorization: Bearer {jwt}"
    report(f"GET {path}", run_wrk(f"{base}{path}", args, ["-H", auth]))
    if not args.revalidate:
        return
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {jwt}"})
    with urllib.request.urlopen(request) as response:
        etag = response.headers.get("ETag")
    if etag is None:
        print(f"{'':<28} {path}: no ETag (not served from the list cache)")
        return
    report("  same, If-None-Match", run_wrk(f"{base}{path}", args, ["-H", auth, "-H", f"If-None-Match: {etag}"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--floor", action="store_true", help="serve bench/floor_app.py (no Django)")
    parser.add_argument(
        "--only", choices=["webhook", *READS, "lists", "health"], action="append",
        help="a path (repeatable); `lists` = every read",
    )
    parser.add_argument("--revalidate", action="store_true", help="also each read with its If-None-Match (304s)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    only = set(args.only or ["webhook", "accounts", "health"])
    if "lists" in only:
        only |= set(READS)
    with served(floor=args.floor) as (server, jwt, token, work_dir):
        args.server_pid = server.process.pid
        print(f"load before: {load()}   wrk -t{args.threads} -c{args.connections} -d{args.seconds}s")
        if "webhook" in only:
            ids_file = work_dir / "acknowledged.txt"
            env = {
                "WRK_TOKEN": token, "WRK_RUN": secrets.token_hex(4), "WRK_ACCOUNT": ACCOUNT, "WRK_APP": APP,
                "WRK_IDS_FILE": str(ids_file),
            }
            figures = run_wrk(server.url, args, ["-s", str(LUA_SCRIPT)], env)
            report("POST execution-complete", figures)
            if not args.floor:
                check_logs(figures, ids_file, args.connections)
        for name, path in READS.items():
            if name in only:
                run_read(server.url, path, jwt, args)
        if "health" in only:
            report("GET /health", run_wrk(f"{server.url}/health", args, []))
        print(f"load after:  {load()}")


if __name__ == "__main__":
    main()
