"""The SPA's refresh storm (issue 28): after each event, every open SPA re-reads its four lists.

Not a test: it prints figures. It prepares a fresh SQLite database and one Daphne as
`bench/wrk_bench.py` does (20 robots, one with a task, an admin), then for each of `--events`
rounds:
1. a robot reports a run (`POST /api/v1/webhook/execution-complete`): one log, a job, the task
   and the account change, their events are published;
2. `--clients` SPA clients (50) each re-read `GET /api/v1/accounts`, `/tasks`, `/jobs`, `/logs`
   on their own kept-alive connection, all at once; with `--revalidate` they send the ETag of
   their last answer (`If-None-Match`), as a browser does.
It prints the server's CPU time per event (the webhook and the 4 x 50 reads; `/proc/<pid>/stat`),
the reads' CPU alone (a round without the webhook is subtracted), the 304 share and how long
a round takes until every client has its four lists.

    .venv/bin/python bench/refresh_storm.py                      # 20 events, 50 clients
    .venv/bin/python bench/refresh_storm.py --revalidate
    RPA_LIST_CACHE=off .venv/bin/python bench/refresh_storm.py   # every read queries
    DATABASE_URL=postgres://… RPA_LIST_CACHE=database .venv/bin/python bench/refresh_storm.py --servers 2

`--servers N` starts N Daphne processes on the one database and spreads the clients over them, as
a load balancer or Pushpin spreads browsers; the CPU is summed over every server.

The clients are Python threads on the same machine: their CPU is not counted, but they take a
core; read the server's CPU per event as the figure, the round time as indicative.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.wrk_bench import ACCOUNT, APP, cpu_seconds, load, served, start_server  # noqa: E402

LISTS = ("/api/v1/accounts", "/api/v1/tasks", "/api/v1/jobs", "/api/v1/logs")


class SpaClient:
    """One browser tab: a kept-alive connection, a JWT, and the ETag of each list it holds."""

    def __init__(self, base: str, jwt: str, revalidate: bool) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.jwt = jwt
        self.revalidate = revalidate
        self.tags: dict[str, str] = {}
        self.statuses: dict[int, int] = {}

    def refresh(self) -> None:
        for path in LISTS:
            headers = {"Authorization": f"Bearer {self.jwt}"}
            if self.revalidate and path in self.tags:
                headers["If-None-Match"] = self.tags[path]
            self.connection.request("GET", path, headers=headers)
            response = self.connection.getresponse()
            response.read()
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            if response.getheader("ETag"):
                self.tags[path] = response.getheader("ETag")


def report_run(base: str, token: str, run: int) -> None:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = {
        "shadow_bot_account": ACCOUNT, "app_name": APP, "status": "completed",
        "start_time": f"2026-01-21T14:{run // 60 % 60:02d}:{run % 60:02d}+08:00", "duration_seconds": 12,
        "execution_id": f"storm-{secrets.token_hex(4)}-{run}",
    }
    connection.request(
        "POST", "/api/v1/webhook/execution-complete", json.dumps(body),
        {"Content-Type": "application/json", "X-Webhook-Token": token},
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    connection.close()


def storm(clients: list[SpaClient], pool: ThreadPoolExecutor) -> float:
    started = time.perf_counter()
    list(pool.map(SpaClient.refresh, clients))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--revalidate", action="store_true", help="send If-None-Match with the last ETag")
    parser.add_argument("--servers", type=int, default=1,
                        help="Daphne processes on the one database, the clients spread over them (default 1)")
    args = parser.parse_args()
    with served() as (first, jwt, token, work_dir):
        servers = [first] + [start_server(work_dir, token, False) for _ in range(args.servers - 1)]
        try:
            run_storms(args, servers, jwt, token)
        finally:
            for server in servers[1:]:
                server.stop()


def run_storms(args: argparse.Namespace, servers: list, jwt: str, token: str) -> None:
    """The rounds of `main`, each client on server (its number mod len(servers)), as a load
    balancer spreads browsers; CPU is summed over every server process."""
    pids = [server.process.pid for server in servers]

    def cpu() -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    clients = [SpaClient(servers[n % len(servers)].url, jwt, args.revalidate) for n in range(args.clients)]
    print(f"load before: {load()}   {args.clients} clients x {len(LISTS)} lists, {args.events} events,"
          f" {'with' if args.revalidate else 'without'} If-None-Match, {len(servers)} server(s)")
    with ThreadPoolExecutor(args.clients) as pool:
        report_run(servers[0].url, token, 0)
        storm(clients, pool)  # every client holds the four lists (and their ETags)
        for client in clients:
            client.statuses.clear()
        rounds, per_event = [], []
        for run in range(1, args.events + 1):
            before = cpu()
            report_run(servers[run % len(servers)].url, token, run)
            rounds.append(storm(clients, pool))
            per_event.append(cpu() - before)
        # The same storm with no event before it: what the reads alone cost.
        quiet = []
        for _ in range(max(3, args.events // 4)):
            before = cpu()
            storm(clients, pool)
            quiet.append(cpu() - before)
    statuses: dict[int, int] = {}
    for client in clients:
        for status, count in client.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    reads = sum(statuses.values())
    print(
        f"server CPU per event (webhook + {args.clients * len(LISTS)} reads): "
        f"{statistics.mean(per_event) * 1000:.0f} ms (median {statistics.median(per_event) * 1000:.0f} ms)\n"
        f"server CPU per storm with no event before it: {statistics.mean(quiet) * 1000:.0f} ms\n"
        f"round until every client has its lists: p50 {statistics.median(rounds) * 1000:.0f} ms,"
        f" max {max(rounds) * 1000:.0f} ms\n"
        f"answers: {', '.join(f'{status}: {count}' for status, count in sorted(statuses.items()))}"
        f" ({reads} reads)"
    )
    print(f"load after:  {load()}")


if __name__ == "__main__":
    main()
