"""Benchmark of the work queues (issue 27; not a test: it prints figures).

1. a fresh SQLite file (or the empty PostgreSQL database of DATABASE_URL), migrated, with a robot,
   an admin and one queue; one Daphne process on it (as the live tests start it);
2. add `--items` items (default 100,000) through `POST /api/v1/queues/{id}/items` in bulks of
   1,000 (`--add-clients` at once) → items/s;
3. drain: `wrk -t16 -c16` with bench/wrk_queue.lua — 16 robots, each taking an item
   (`webhook/queue/next`) and posting its result, again and again — for `--drain-seconds`
   (0 = in rounds until the queue is empty) → items/s (take + result), requests/s, p50/p99;
   afterwards every item is checked to have been taken once: no item successful twice, none
   in progress left behind but the last round's in-flight ones;
4. the queue's admin pages and `/api/v1/queues` with the queue full: wrk -t1 -c1 for 5 s each
   → ms per page.

    .venv/bin/python bench/work_queue.py                                 # SQLite
    DATABASE_URL=postgres://rpa@127.0.0.1:55432/rpa_h7 .venv/bin/python bench/work_queue.py
    .venv/bin/python bench/work_queue.py --items 10000 --drain-seconds 0  # drain to the end

wrk and the server share the machine's 2 cores; the load average is printed before and after.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import requests  # noqa: E402
import wrk_bench  # noqa: E402

QUEUE = "bench_orders"
LUA = BENCH_DIR / "wrk_queue.lua"


def wrk(url: str, seconds: float, threads: int, extra: list[str], env: dict | None = None) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{threads}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s", *extra, url]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True)
    return wrk_bench.parse(result.stdout)


def counts() -> dict[str, int]:
    from workqueues.counting import counts_of
    from workqueues.models import WorkQueue

    queue = WorkQueue.objects.get(name=QUEUE)
    return counts_of([queue.pk])[queue.pk]


def add_items(url: str, jwt: str, queue_id: str, total: int, clients: int) -> float:
    bulk = 1000
    headers = {"Authorization": f"Bearer {jwt}"}

    def post(start: int) -> None:
        items = [{"reference": f"ORD-{n:07d}", "priority": ("normal", "high", "low")[n % 3],
                  "payload": {"order": n, "customer": f"C{n % 977}", "amount": round(n * 0.37 % 500, 2)}}
                 for n in range(start, min(start + bulk, total))]
        answer = requests.post(f"{url}/api/v1/queues/{queue_id}/items", json={"items": items}, headers=headers, timeout=120)
        answer.raise_for_status()

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(0, total, bulk)))
    return time.perf_counter() - began


def admin_cookie() -> str:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    return client.cookies["sessionid"].value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--add-clients", type=int, default=2)
    parser.add_argument("--robots", type=int, default=16)
    parser.add_argument("--drain-seconds", type=float, default=60, help="0: until the queue is empty")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    work_dir = Path(tempfile.mkdtemp(prefix="bench_wq_"))
    token = secrets.token_urlsafe(24)
    jwt = wrk_bench.prepare(work_dir, token)
    from django.db import connection

    from workqueues.models import WorkQueue

    queue = WorkQueue.objects.create(name=QUEUE, unique_references=True, max_retries=1)
    print(f"database: {connection.vendor}; load before: {wrk_bench.load()}")
    server = wrk_bench.start_server(work_dir, token, floor=False)
    try:
        added = add_items(server.url, jwt, str(queue.pk), args.items, args.add_clients)
        print(f"add: {args.items} items in bulks of 1,000 ({args.add_clients} clients): {added:.1f} s, {args.items / added:,.0f} items/s")
        before = counts()
        assert before["new"] == args.items, before
        env = {"WQ_TOKEN": token, "WQ_QUEUE": QUEUE, "WQ_ROBOT": wrk_bench.ACCOUNT}
        extra = ["-s", str(LUA)]
        began, rounds, figures = time.perf_counter(), [], None
        seconds = args.drain_seconds or 30
        while True:
            figures = wrk(server.url, seconds, args.robots, extra, env)
            rounds.append(figures)
            now = counts()
            if args.drain_seconds or (now["new"] == 0):
                break
        elapsed = time.perf_counter() - began
        time.sleep(1)  # the last round's in-flight results
        after = counts()
        done = after["successful"]
        requests_total = sum(round_["requests"] for round_ in rounds)
        print(f"drain: {args.robots} robots (wrk), {elapsed:.0f} s: {done:,} items taken and finished, "
              f"{done / elapsed:,.0f} items/s; {requests_total / elapsed:,.0f} req/s; last round p50 {figures['p50']:.1f} ms, "
              f"p99 {figures['p99']:.1f} ms; non-2xx {sum(r['non2xx'] for r in rounds)}; left new {after['new']:,}, "
              f"in progress {after['in_progress']}")
        assert after["new"] + after["in_progress"] + after["successful"] == args.items, after  # nothing lost or doubled
        cookie = admin_cookie()
        pages = [
            ("admin: queues", "/admin/workqueues/workqueue/", ["-H", f"Cookie: sessionid={cookie}"]),
            ("admin: the queue's items", f"/admin/workqueues/queueitem/?queue__id__exact={queue.pk}", ["-H", f"Cookie: sessionid={cookie}"]),
            ("GET /api/v1/queues", "/api/v1/queues", ["-H", f"Authorization: Bearer {jwt}"]),
            ("GET /api/v1/queues/{id}/items", f"/api/v1/queues/{queue.pk}/items", ["-H", f"Authorization: Bearer {jwt}"]),
        ]
        for label, path, headers in pages:
            page = wrk(server.url + path, 5, 1, headers)
            print(f"{label} ({after['new']:,} new of {args.items:,} items): {1000 / page['rps']:.1f} ms per page "
                  f"(p50 {page['p50']:.1f}, p99 {page['p99']:.1f}; non-2xx {page['non2xx']})")
        print(json.dumps({"load_after": wrk_bench.load()}))
    finally:
        server.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
