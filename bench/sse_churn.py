"""Benchmark of stream churn (not a test: it prints figures): does the server give memory back?

Starts one Daphne process as `bench/sse_fanout.py` does, then runs `--cycles` cycles: open
`--subscribers` streams, post five webhooks, close every stream, wait for the server to settle,
and print its RSS, threads and open descriptors. Closed streams leave reference cycles that only
a full garbage collection frees (see `events.Hub.remove_listener`); RSS should level off.

    .venv/bin/python bench/sse_churn.py                 # 1000 streams, 12 cycles
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sse_fanout as fanout  # noqa: E402 — the bench directory is not a package


async def open_streams(port: int, token: str, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    gate = asyncio.Semaphore(50)  # Twisted's listen backlog is 50

    async def one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /api/v1/sse/events?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            await reader.readuntil(b"id: ")  # positioned: the stream is registered
            return reader, writer

    return await asyncio.gather(*(one() for _ in range(count)))


async def cycle(url: str, token: str, subscribers: int, first_webhook: int, settle: float) -> None:
    port = int(url.rsplit(":", 1)[1])
    streams = await open_streams(port, token, subscribers)
    loop = asyncio.get_running_loop()
    session = requests.Session()
    for n in range(first_webhook, first_webhook + 5):
        await loop.run_in_executor(None, fanout.post_webhook, session, url, n)
        await asyncio.sleep(0.1)
    for _, writer in streams:
        writer.close()
    await asyncio.sleep(settle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="streams per cycle (default 1000)")
    parser.add_argument("--cycles", type=int, default=12, help="open/close cycles (default 12)")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds to wait after closing (default 4)")
    args = parser.parse_args()

    fanout.raise_fd_limit(args.subscribers * 2 + 200)
    work_dir = Path(tempfile.mkdtemp(prefix="rpa-bench-churn-"))
    env = fanout.server_env(work_dir)
    token = fanout.prepare_database(env)
    process, url = fanout.start_daphne(env, work_dir)
    try:
        idle = fanout.process_figures(process.pid)
        print(f"Daphne {process.pid}: idle RSS {idle['rss_mb']:.0f} MB, {idle['threads']:.0f} threads")
        for n in range(args.cycles):
            asyncio.run(cycle(url, token, args.subscribers, n * 5, args.settle))
            figures = fanout.process_figures(process.pid)
            print(
                f"after cycle {n + 1:2d} ({(n + 1) * args.subscribers} streams closed): "
                f"RSS {figures['rss_mb']:.0f} MB, {figures['threads']:.0f} threads, {figures['fds']:.0f} fds",
                flush=True,
            )
    finally:
        fanout.stop(process)
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
