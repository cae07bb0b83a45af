"""Benchmark of the execution-complete webhook under Daphne (not a test: it prints figures).

Makes a fresh SQLite file, migrates it, adds one robot account with one task, starts the real
app under Daphne (as the live tests do) with RPA_WEBHOOK_TOKEN set, then posts `--n` distinct
execution-complete webhooks from `--concurrency` keep-alive connections. Prints webhooks/s,
p50/p99/max latency, errors, and the number of logs in the database afterwards (must be N).

    .venv/bin/python bench/ingest.py                   # 20000 webhooks, 16 at a time
    .venv/bin/python bench/ingest.py --n 2000 --concurrency 4
    .venv/bin/python bench/ingest.py --n 2000 --health 4000   # and the ceiling: GET /health
    .venv/bin/python bench/ingest.py --n 5000 --floor         # Daphne alone: bench/floor_app.py

The client is a small asyncio HTTP/1.1 client (one keep-alive connection per worker) so that
the load generator costs as little CPU as possible on a small machine; its cost still counts
against the server when both share two cores. `uptime` is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
ACCOUNT = "bench_bot"
APP = "bench_app"
PATH = "/api/v1/webhook/execution-complete"
T0 = datetime(2026, 1, 1, 8, 0, 0)


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def prepare(work_dir: Path, token: str) -> Path:
    """Configure Django on a fresh SQLite file, migrate it and add the robot's account and task."""
    db_path = work_dir / "ingest.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
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
    from django.core.management import call_command

    from accounts.models import Account
    from tasks.models import Task

    call_command("migrate", verbosity=0)
    account = Account.objects.create(
        shadow_bot_account=ACCOUNT, host_ip="10.0.0.1", port=8000, status="running"
    )
    Task.objects.create(task_name="Bench", account=account, app_name=APP, status="running")
    return db_path


def start_server(work_dir: Path, token: str, floor: bool = False):
    """The app under Daphne on the bench database, as the live tests start it (or, with `floor`,
    bench/floor_app.py: a bare ASGI app answering the same webhooks with no Django at all)."""
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


def body(index: int) -> bytes:
    """A distinct execution: its own start time (and execution id)."""
    start = T0 + timedelta(seconds=index * 7)
    return json.dumps(
        {
            "shadow_bot_account": ACCOUNT,
            "app_name": APP,
            "status": "completed" if index % 10 else "failed",
            "start_time": start.strftime("%Y-%m-%d %H:%M:%S"),
            "end_time": (start + timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S"),
            "duration_seconds": 5,
            "result_summary": {"total_items": 10, "success_items": 9, "failed_items": 1},
            "log_info": True,
            "screenshot": False,
            "log_url": f"https://bucket.example.com/logs/{index}.txt",
            "execution_id": f"bench-{index}",
        }
    ).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    parts = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return status, b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readline()


async def worker(url: str, token: str, indexes: list[int], latencies: list[float], errors: list[str]) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for index in indexes:
            payload = body(index)
            request = (
                f"POST {PATH} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Webhook-Token: {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload
            started = time.perf_counter()
            try:
                writer.write(request)
                status, answer = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{index}: {exc!r}")
                writer.close()
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                continue
            latencies.append(time.perf_counter() - started)
            if status != 200 or b'"duplicate":false' not in answer.replace(b" ", b""):
                errors.append(f"{index}: HTTP {status} {answer[:200]!r}")
    finally:
        writer.close()


async def run(
    url: str, token: str, first: int, n: int, concurrency: int
) -> tuple[float, list[float], list[str]]:
    """Post executions first..first+n-1, `concurrency` connections each taking every k-th one."""
    latencies: list[float] = []
    errors: list[str] = []
    shares = [list(range(first + k, first + n, concurrency)) for k in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(url, token, share, latencies, errors) for share in shares))
    return time.perf_counter() - started, latencies, errors


async def health_worker(url: str, count: int, latencies: list[float]) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    request = f"GET /health HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            status, _ = await read_response(reader)
            if status != 200:
                raise RuntimeError(f"/health answered {status}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def run_health(url: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    """The ceiling of the server itself: `n` GET /health (no auth, one `SELECT 1`) at `concurrency`."""
    latencies: list[float] = []
    started = time.perf_counter()
    shares = [n // concurrency + (1 if k < n % concurrency else 0) for k in range(concurrency)]
    await asyncio.gather(*(health_worker(url, share, latencies) for share in shares if share))
    return time.perf_counter() - started, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="webhooks to post (default 20000)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections at once (default 16)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed webhooks first (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="measure the floor instead of the product: bench/floor_app.py, a bare ASGI app on Daphne "
        "answering the same webhooks (no Django, no database; logs in DB will be 0)",
    )
    parser.add_argument(
        "--health",
        type=int,
        default=0,
        help="also time N GET /health at the same concurrency: the ceiling of a trivial Django view "
        "on this server and machine (default 0: skip)",
    )
    args = parser.parse_args()

    work_dir = Path(tempfile.mkdtemp(prefix="rpa_bench_ingest_"))
    token = secrets.token_urlsafe(32)
    db_path = prepare(work_dir, token)
    server = start_server(work_dir, token, floor=args.floor)
    events_note = ""
    if args.floor:
        events_note = " (the bare floor app bench/floor_app.py, not the product)"
    print(f"Daphne at {server.url}{events_note}, SQLite {db_path}; load before: {load()}")
    try:
        if args.warmup:
            asyncio.run(run(server.url, token, 0, args.warmup, min(args.concurrency, args.warmup)))
        # The timed executions come after the warm-up's (distinct start times and ids).
        elapsed, latencies, errors = asyncio.run(
            run(server.url, token, args.warmup, args.n, args.concurrency)
        )
        if args.health:
            health_elapsed, health_latencies = asyncio.run(run_health(server.url, args.health, args.concurrency))
    finally:
        server.stop()
    with sqlite3.connect(db_path) as db:
        logs = db.execute("SELECT COUNT(*) FROM executionlogs_executionlog").fetchone()[0]
    timed_logs = logs - args.warmup
    print(f"{args.n} webhooks at concurrency {args.concurrency} in {elapsed:.2f} s")
    print(f"  throughput : {args.n / elapsed:8.1f} webhooks/s")
    print(
        f"  latency    : p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies, default=0) * 1000:.1f} ms"
    )
    print(f"  errors     : {len(errors)}")
    for line in errors[:5]:
        print(f"    {line}")
    if args.floor:
        print("  logs in DB : none (the floor app stores nothing)")
    else:
        print(f"  logs in DB : {timed_logs} (+{args.warmup} warm-up) — expected {args.n}")
    print(f"  load after : {load()}")
    if args.health:
        count = len(health_latencies)
        print(
            f"GET /health ×{count} at concurrency {args.concurrency}: {count / health_elapsed:.1f}/s, "
            f"p50 {percentile(health_latencies, 0.50) * 1000:.1f} ms, "
            f"p99 {percentile(health_latencies, 0.99) * 1000:.1f} ms "
            + ("(the floor app: Daphne alone)" if args.floor else "(the ceiling of any Django view here)")
        )
    if args.keep:
        print(f"kept {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
