"""Benchmark of live-event fan-out (not a test: it prints figures).

Starts one Daphne process on a fresh SQLite database (migrated, one robot account and task, a
viewer), opens `--subscribers` event streams (`/api/v1/sse/events?token=…`, raw asyncio
sockets, spread over `--client-procs` client processes so the clients' own parsing does not
dominate the measurement), then posts `--webhooks` execution-complete webhooks one after the
other, `--interval` seconds apart. Each webhook publishes account_updated, task_updated and
log_created; the latency of one delivery is from just before the webhook request is sent to the
moment a subscriber has read that webhook's `log_created` event (the last of the three).

Prints delivery latency p50/p90/p99/max over every (webhook, subscriber) pair, missed deliveries,
and the server's RSS, peak RSS, threads, open file descriptors and CPU time.
Goal: 1000 subscribers, p99 ≤ 100 ms, 0 missed.

    .venv/bin/python bench/sse_fanout.py                        # 1000 subscribers, 50 webhooks
    .venv/bin/python bench/sse_fanout.py --subscribers 200 --webhooks 20
    .venv/bin/python bench/sse_fanout.py --floor      # the same against bench/floor_app.py
    .venv/bin/python bench/sse_fanout.py --pushpin --floor --subscribers 5000 --client-procs 4  # Pushpin alone
    .venv/bin/python bench/sse_fanout.py --pushpin --subscribers 5000 --client-procs 4   # Pushpin + 2 Daphne
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
WEBHOOK_TOKEN = "bench-webhook-secret"
ROBOT, APP = "bench_bot", "daily_report"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000, help="event streams to open (default 1000)")
    parser.add_argument(
        "--webhooks", type=int, default=50, help="execution-complete webhooks to post (default 50)"
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between webhooks (default 0.2)")
    parser.add_argument(
        "--client-procs", type=int, default=2, help="client processes holding the streams (default 2)"
    )
    parser.add_argument(
        "--wait", type=float, default=30, help="seconds to wait for late deliveries (default 30)"
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="Daphne processes behind --pushpin (at least 2); without --pushpin one process, the "
        "single-process set-up (live events reach several processes only through Pushpin)",
    )
    parser.add_argument(
        "--pushpin",
        action="store_true",
        help="Pushpin in front of --servers (at least 2) Daphne processes (rpa_workbench.scaleout): the "
        "streams are held by Pushpin, webhooks go through it too; prints Pushpin's RSS and CPU",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="measure the floor instead of the product: bench/floor_app.py, a bare ASGI app on Daphne "
        "doing only the same fan-out (no Django, no database); with --pushpin, the same events "
        "published straight to Pushpin instead of caused by webhooks (Pushpin alone)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (database, server log)"
    )
    return parser.parse_args()


# --- server --------------------------------------------------------------------------------


def raise_fd_limit(needed: int) -> None:
    """Streams need one descriptor each on both sides; children inherit the raised soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, needed)) if hard != resource.RLIM_INFINITY else max(soft, needed)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < needed:
        print(f"warning: open-files limit {wanted} < {needed} needed; raise `ulimit -n`", flush=True)


def server_env(work_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work_dir / 'bench.sqlite3'}",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings",
        "RPA_VAR_DIR": str(work_dir / "var"),
        "RPA_MEDIA_ROOT": str(work_dir / "media"),
        "RPA_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "RPA_EMBEDDED_SCHEDULER": "false",
        "RPA_LOG_LEVEL": os.environ.get("RPA_LOG_LEVEL", "WARNING"),
        "PYTHONUNBUFFERED": "1",
    }


def prepare_database(env: dict[str, str]) -> str:
    """Migrate, create the robot's account and task and a viewer; return the viewer's access JWT."""
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Account
    from tasks.models import Task

    call_command("migrate", verbosity=0)
    account = Account.objects.create(shadow_bot_account=ROBOT, host_ip="10.0.0.1", port=8000)
    Task.objects.create(task_name="Bench", account=account, app_name=APP)
    viewer = get_user_model().objects.create_user(username="bench_viewer", password=secrets.token_urlsafe(12))
    viewer.groups.add(Group.objects.get(name="viewer"))
    from django.db import connections

    connections.close_all()
    return str(AccessToken.for_user(viewer))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PRODUCT_APP = "rpa_workbench.asgi:application"
FLOOR_APP = "bench.floor_app:application"


def start_daphne(env: dict[str, str], work_dir: Path, app: str = PRODUCT_APP) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(work_dir / f"daphne_{port}.log", "wb")  # noqa: SIM115 — lives as long as the server
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            app,
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"Daphne exited early; see {work_dir / f'daphne_{port}.log'}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("Daphne did not answer /health within 60 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (Pushpin's runner starts its services as children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def total_figures(pids: list[int]) -> dict[str, float]:
    """`process_figures` added up over every server process."""
    figures = [process_figures(pid) for pid in pids]
    return {key: sum(figure[key] for figure in figures) for key in figures[0]}


def process_figures(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_mb": int(values["VmRSS"].split()[0]) / 1024,
        "peak_rss_mb": int(values["VmHWM"].split()[0]) / 1024,
        "threads": int(values["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "cpu_s": (int(stat[11]) + int(stat[12])) / ticks,
    }


# --- subscribers (run in client processes) -------------------------------------------------


async def subscribe(
    port: int, token: str, received: dict[str, float], ready: asyncio.Event, gate, resets: list[int]
) -> None:
    """One stream, as a browser's EventSource keeps it: connect, wait for its position (`id:`),
    time every log_created; if the connection drops, reconnect with `Last-Event-ID` (counted in
    `resets`; a stream dropped more than three times fails the run)."""
    last_id: list[str] = []
    failures = 0
    while True:
        try:
            await stream_once(port, token, received, ready, gate, last_id)
            return
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            failures += 1
            resets[0] += 1
            if failures > 3:
                raise RuntimeError(f"stream dropped {failures} times: {exc!r}") from exc


async def stream_once(port: int, token: str, received: dict[str, float], ready: asyncio.Event, gate, last_id) -> None:
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        resume = f"Last-Event-ID: {last_id[-1]}\r\n" if last_id else ""
        writer.write(
            f"GET /api/v1/sse/events?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Accept: text/event-stream\r\n{resume}\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace").splitlines()[0])
    chunked = b"transfer-encoding: chunked" in head.lower()
    buffer = b""
    try:
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                buffer += chunk[:-2]
            else:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionResetError("the stream ended")
                buffer += chunk
            now = time.monotonic()
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    if line.startswith(b"id: "):
                        last_id.append(line[4:].decode())
                        del last_id[:-1]
                if block.startswith(b"id:"):
                    ready.set()
                    continue
                if b"event: log_created\n" not in block:
                    continue
                data = json.loads(block.split(b"\ndata: ", 1)[1])
                received[data["data"]["log_id"]] = now
    finally:
        writer.close()


async def client_main(port: int, token: str, count: int, conn) -> None:
    gate = asyncio.Semaphore(50)  # Twisted's listen backlog is 50: do not flood it with SYNs
    streams = [({}, asyncio.Event()) for _ in range(count)]
    resets = [0]
    tasks = [asyncio.create_task(subscribe(port, token, got, ready, gate, resets)) for got, ready in streams]
    waiting = asyncio.ensure_future(asyncio.gather(*(ready.wait() for _, ready in streams)))
    # Every stream positioned, or one of them failed (a stream task only ends by failing here).
    await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = [task for task in tasks if task.done()]
    if failed:
        conn.send(("error", repr(failed[0].exception())))
        return
    conn.send(("ready", (count, resets[0])))
    # Wait (without blocking the loop) for the parent to say the webhooks are all in.
    loop = asyncio.get_running_loop()
    cpu_before = time.process_time()
    expected, wait = await loop.run_in_executor(None, conn.recv)
    cpu_used = time.process_time() - cpu_before
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not all(expected <= got.keys() for got, _ in streams):
        await asyncio.sleep(0.1)
    conn.send(("received", ([got for got, _ in streams], cpu_used, resets[0])))
    for task in tasks:
        task.cancel()


def client_process(port: int, token: str, count: int, conn) -> None:
    asyncio.run(client_main(port, token, count, conn))


# --- the run -------------------------------------------------------------------------------


def post_webhook(session: requests.Session, url: str, n: int) -> requests.Response:
    """Post execution `n` (its own start time and execution id); raise on an error status."""
    body = {
        "shadow_bot_account": ROBOT,
        "app_name": APP,
        "status": "completed",
        "start_time": f"2026-01-21T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}+08:00",
        "execution_id": f"bench-{n}",
    }
    response = session.post(
        f"{url}/api/v1/webhook/execution-complete",
        json=body,
        headers={"X-Webhook-Token": WEBHOOK_TOKEN},
        timeout=30,
    )
    response.raise_for_status()
    return response


def post_webhooks(url: str, count: int, interval: float) -> tuple[dict[str, float], list[float]]:
    """Post the webhooks one by one; return log_id → monotonic time just before its request, and
    each request's response time (ms)."""
    session = requests.Session()
    sent: dict[str, float] = {}
    answered: list[float] = []
    for n in range(count):
        began = time.monotonic()
        response = post_webhook(session, url, n)
        answered.append((time.monotonic() - began) * 1000)
        sent[response.json()["log_id"]] = began
        time.sleep(interval)
    return sent, answered


def publish_directly(publish_url: str, count: int, interval: float) -> tuple[dict[str, float], list[float]]:
    """The floor of the Pushpin path (`--pushpin --floor`): what a webhook makes Pushpin deliver
    (one item on the all-events channel: a log_created and three more events of the same size),
    published straight to Pushpin's publish endpoint, with no Django in between."""
    from rpa_workbench.sse_wire import encode_event, make_id

    session = requests.Session()
    sent: dict[str, float] = {}
    answered: list[float] = []
    for n in range(count):
        log_id = f"floor-{n}"
        data = json.dumps({"type": "log_created", "data": {"log_id": log_id, "padding": "x" * 300}})
        blocks = [
            encode_event(kind, data, make_id({"rpa": 10_000_000 + n * 4 + i}))
            for i, kind in enumerate(("job_updated", "task_updated", "account_updated", "log_created"))
        ]
        began = time.monotonic()
        response = session.post(
            f"{publish_url}/publish/",
            json={"items": [{"channel": "rpa", "id": f"floor-{n}", "formats": {"http-stream": {"content": "".join(blocks)}}}]},
            timeout=30,
        )
        response.raise_for_status()
        answered.append((time.monotonic() - began) * 1000)
        sent[log_id] = began
        time.sleep(interval)
    return sent, answered


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    args = parse_args()
    if args.servers > 1 and not args.pushpin:
        raise SystemExit("--servers > 1 needs --pushpin: several processes share live events through Pushpin")
    work_dir = Path(tempfile.mkdtemp(prefix="rpa-bench-sse-"))
    raise_fd_limit(args.subscribers * 2 + 200)
    env = server_env(work_dir)
    token = prepare_database(env)
    started: list[subprocess.Popen] = []
    layout = None
    pushpin_pids: list[int] = []
    try:
        if args.pushpin:
            from rpa_workbench import scaleout

            layout = scaleout.start(servers=max(2, args.servers), extra_env=env, work_dir=work_dir / "layout")
            servers = [(process, server_url) for process, server_url in zip(layout.processes[2:], layout.server_urls, strict=True)]
            pushpin_pids = descendants(layout.processes[0].pid) + [layout.processes[1].pid]
            url = layout.url
            ports = [int(layout.url.rsplit(":", 1)[1])]
        else:
            servers = [start_daphne(env, work_dir, FLOOR_APP if args.floor else PRODUCT_APP)]
            started.append(servers[0][0])
            url = servers[0][1]
            ports = [int(server_url.rsplit(":", 1)[1]) for _, server_url in servers]
        pids = [process.pid for process, _ in servers]
        idle = total_figures(pids)
        shared = f" behind Pushpin {layout.url}" if layout is not None else ""
        print(
            f"{len(servers)} Daphne process(es) {pids}{shared}; "
            f"idle: RSS {idle['rss_mb']:.0f} MB, {idle['threads']:.0f} threads"
        )
        context = multiprocessing.get_context("spawn")
        procs = max(1, min(max(args.client_procs, len(ports)), args.subscribers))
        shares = [
            args.subscribers // procs + (1 if i < args.subscribers % procs else 0) for i in range(procs)
        ]
        pipes, clients = [], []
        began = time.monotonic()
        for index, share in enumerate(shares):
            parent, child = context.Pipe()
            port = ports[index % len(ports)]
            client = context.Process(target=client_process, args=(port, token, share, child), daemon=True)
            client.start()
            pipes.append(parent)
            clients.append(client)
        resets_opening = 0
        for pipe in pipes:
            kind, value = pipe.recv()
            if kind != "ready":
                raise SystemExit(f"a client process failed: {value}")
            resets_opening += value[1]
        print(
            f"{args.subscribers} streams open in {time.monotonic() - began:.1f} s"
            f" ({resets_opening} dropped while opening and reconnected, as EventSource does)",
            flush=True,
        )
        status = requests.get(
            f"{url}/api/v1/sse/status", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        connected = total_figures(pids)
        print(
            f"/sse/status connected_clients={status['connected_clients']}; RSS {connected['rss_mb']:.0f} MB, "
            f"{connected['threads']:.0f} threads, {connected['fds']:.0f} fds"
        )

        if pushpin_pids:
            proxy = total_figures(pushpin_pids)
            print(f"Pushpin (with zurl): RSS {proxy['rss_mb']:.0f} MB, {proxy['fds']:.0f} fds")
        cpu_before = connected["cpu_s"]
        pushpin_cpu_before = total_figures(pushpin_pids)["cpu_s"] if pushpin_pids else 0.0
        if args.pushpin and args.floor:
            sent, answered = publish_directly(layout.publish_url, args.webhooks, args.interval)
        else:
            sent, answered = post_webhooks(url, args.webhooks, args.interval)
        after = total_figures(pids)  # every stream still open
        pushpin_after = total_figures(pushpin_pids) if pushpin_pids else None
        for pipe in pipes:
            pipe.send((set(sent), args.wait))  # each client reports once it has all, or at the deadline
        streams: list[dict[str, float]] = []
        clients_cpu = 0.0
        resets = 0
        for pipe in pipes:
            kind, (received, cpu_used, client_resets) = pipe.recv()
            streams.extend(received)
            clients_cpu += cpu_used
            resets += client_resets
    finally:
        for process in reversed(started):
            stop(process)
        if layout is not None:
            layout.stop()

    latencies = [(got[log_id] - at) * 1000 for got in streams for log_id, at in sent.items() if log_id in got]
    expected = len(sent) * len(streams)
    missed = expected - len(latencies)
    print(f"\n{len(sent)} webhooks × {len(streams)} subscribers = {expected} deliveries expected")
    if latencies:
        print(
            "latency webhook → subscriber (ms): "
            f"p50 {statistics.median(latencies):.1f}  p90 {percentile(latencies, 0.90):.1f}  "
            f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}"
        )
    print(f"missed deliveries: {missed}; streams dropped and reconnected: {resets} in all ({resets_opening} while opening)")
    print(
        f"webhook response time (ms): p50 {statistics.median(answered):.1f}  "
        f"p99 {percentile(answered, 0.99):.1f}  (included in the latency above)"
    )
    print(
        f"server: RSS {after['rss_mb']:.0f} MB (peak {after['peak_rss_mb']:.0f} MB), {after['threads']:.0f} threads, "
        f"{after['fds']:.0f} fds, CPU {after['cpu_s'] - cpu_before:.1f} s during the webhooks"
    )
    if pushpin_after is not None:
        print(
            f"Pushpin (with zurl): RSS {pushpin_after['rss_mb']:.0f} MB, "
            f"CPU {pushpin_after['cpu_s'] - pushpin_cpu_before:.1f} s during the webhooks"
        )
    print(f"clients: CPU {clients_cpu:.1f} s while the webhooks were sent (they share the machine with the server)")
    if args.pushpin:
        goal = bool(latencies) and percentile(latencies, 0.99) <= 200 and missed == 0
        print(f"goal through Pushpin (5000 subscribers, p99 ≤ 200 ms, 0 missed): {'met' if goal else 'NOT met'}"
              + ("" if args.subscribers >= 5000 else f" at {args.subscribers} subscribers"))
    elif args.subscribers >= 1000:
        goal = bool(latencies) and percentile(latencies, 0.99) <= 100 and missed == 0
        floor = " (by the bare floor app, not the product)" if args.floor else ""
        print(f"goal (1000 subscribers, p99 ≤ 100 ms, 0 missed){floor}: {'met' if goal else 'NOT met'}")
    for client in clients:
        client.join(timeout=10)
    if args.keep:
        print(f"kept {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
