"""Benchmark of the resources proxy and stored-file streaming (not a test: it prints figures).

Serves `--mb` megabytes from a local HTTP "bucket" (chunked, no Content-Length) and pulls them
through `resources.proxy.fetch(...).chunks()`, then serves a stored file of the same size via
`resources.responses.file_response`. Prints throughput and the Python heap peak (tracemalloc),
which must stay flat (a few chunks), whatever the size.

    .venv/bin/python bench/resources_proxy.py            # 200 MB
    .venv/bin/python bench/resources_proxy.py --mb 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    total = args.mb * 1024 * 1024
    media = tempfile.mkdtemp(prefix="rpa_bench_media_")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
    os.environ["RPA_MEDIA_ROOT"] = media
    os.environ["RPA_PROXY_ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["RPA_PROXY_MAX_BYTES"] = str(total + 1)
    os.environ["RPA_PROXY_TOTAL_TIMEOUT"] = "3600"

    import django

    django.setup()
    from django.test import RequestFactory

    from resources import proxy
    from resources.files import find_stored
    from resources.responses import file_response
    from resources.tests.upstream import send_chunked, start_upstream

    block = b"x" * (256 * 1024)
    upstream, server = start_upstream()
    upstream.routes["/big.bin"] = lambda h: send_chunked(h, (block for _ in range(total // len(block))))

    tracemalloc.start()
    started = time.perf_counter()
    received = sum(len(chunk) for chunk in proxy.fetch(upstream.url("/big.bin")).chunks())
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    server.shutdown()
    print(f"proxy:       {received / 2**20:8.0f} MB in {elapsed:6.2f} s = {received / 2**20 / elapsed:7.1f} MB/s, "
          f"heap peak {peak / 2**20:.1f} MB")

    path = Path(media) / "logs" / "big.log"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:
        for _ in range(total // len(block)):
            handle.write(block)
    stored = find_stored("logs/big.log")
    tracemalloc.start()
    started = time.perf_counter()
    response = file_response(RequestFactory().get("/api/v1/resources/logs/big.log"), stored)
    served = sum(len(chunk) for chunk in response.streaming_content)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"stored file: {served / 2**20:8.0f} MB in {elapsed:6.2f} s = {served / 2**20 / elapsed:7.1f} MB/s, "
          f"heap peak {peak / 2**20:.1f} MB")
    path.unlink()


if __name__ == "__main__":
    main()
