"""Start the scale-out layout locally: Pushpin in front of several Daphne processes, one
database (PostgreSQL). Used by `make scaleout` and the `pushpin` tests; docs/production.md.

    DATABASE_URL=postgres://rpa@127.0.0.1:55432/rpa .venv/bin/python -m rpa_workbench.scaleout

Pushpin listens on `--port` (default 7999) and routes every request to the Daphne processes
(round robin); the processes publish events to Pushpin's publish port. Ctrl-C stops it all.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
logger = logging.getLogger(__name__)

# Pushpin's outgoing HTTP client (Debian runs it as a system service; here one of our own,
# allowed to reach the servers on 127.0.0.1).
ZURL_CONF = """[General]
in_spec=ipc://{rundir}/zurl-in
in_stream_spec=ipc://{rundir}/zurl-in-stream
out_spec=ipc://{rundir}/zurl-out
in_req_spec=ipc://{rundir}/zurl-req
defpolicy=allow
allow=127.0.0.1
max_open_requests=2000
buffer_size=200000
timeout=600
"""

PUSHPIN_CONF = """[global]
include={{libdir}}/internal.conf
rundir={rundir}
ipc_prefix=rpa-{tag}-
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,pushpin-proxy,pushpin-handler
http_port={http_port}
logdir={rundir}
log_level=2
client_buffer_size=8192
client_maxconn=50000

[proxy]
routesfile={rundir}/routes
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
sig_iss=pushpin
sig_key={sig_key}
updates_check=off

zurl_out_specs=ipc://{rundir}/zurl-in
zurl_out_stream_specs=ipc://{rundir}/zurl-in-stream
zurl_in_specs=ipc://{rundir}/zurl-out

[handler]
push_in_spec=tcp://127.0.0.1:{push_port}
push_in_sub_specs=tcp://127.0.0.1:{sub_port}
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port={publish_port}
stats_spec=ipc://{rundir}/rpa-{tag}-stats
command_spec=tcp://127.0.0.1:{command_port}
message_rate=100000
message_hwm=200000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
"""


_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port not handed out before by this process. A port is only probed, not
    held, so without the set two calls before anything binds could name the same port (Pushpin's
    handler then fails to bind the port its HTTP listener already took)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(url: str, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited early")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@dataclass
class Layout:
    """The running processes: Pushpin (`url`: where clients connect) and the servers."""

    url: str
    publish_url: str
    server_urls: list[str]
    work_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def server_env(publish_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every process of the layout shares (servers and management commands)."""
    return {**os.environ, "RPA_PUSHPIN_PUBLISH_URL": publish_url, "PYTHONUNBUFFERED": "1", **(extra or {})}


def start(
    *, servers: int = 2, port: int | None = None, extra_env: dict[str, str] | None = None, work_dir: Path | None = None
) -> Layout:
    """Start `servers` Daphne processes and Pushpin routing to them; wait until all answer."""
    if shutil.which("pushpin") is None:
        raise RuntimeError("pushpin is not installed (Debian/Ubuntu: apt-get install pushpin)")
    work_dir = work_dir or Path(tempfile.mkdtemp(prefix="rpa_scaleout_"))
    work_dir.mkdir(parents=True, exist_ok=True)
    http_port = port or free_port()
    publish_port = free_port()
    publish_url = f"http://127.0.0.1:{publish_port}"
    env = server_env(publish_url, extra_env)
    layout = Layout(f"http://127.0.0.1:{http_port}", publish_url, [], work_dir)
    try:
        for _ in range(servers):
            server_port = free_port()
            log = open(work_dir / f"daphne_{server_port}.log", "wb")  # noqa: SIM115 — closed with the process
            layout.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "rpa_workbench.serve", "-b", "127.0.0.1", "-p", str(server_port),
                     "rpa_workbench.asgi:application"],
                    cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            )
            layout.server_urls.append(f"http://127.0.0.1:{server_port}")
        rundir = work_dir / "pushpin"
        rundir.mkdir(exist_ok=True)
        targets = " ".join(url.removeprefix("http://") for url in layout.server_urls)
        (rundir / "routes").write_text(f"* {targets}\n")
        conf = rundir / "pushpin.conf"
        conf.write_text(
            PUSHPIN_CONF.format(
                rundir=rundir, tag=http_port, http_port=http_port, publish_port=publish_port,
                push_port=free_port(), sub_port=free_port(), command_port=free_port(),
                sig_key=os.urandom(16).hex(),
            )
        )
        (rundir / "zurl.conf").write_text(ZURL_CONF.format(rundir=rundir))
        log = open(work_dir / "pushpin.log", "wb")  # noqa: SIM115
        layout.processes.insert(
            0, subprocess.Popen(["pushpin", "--config", str(conf), "--merge-output"], stdout=log, stderr=subprocess.STDOUT)
        )
        layout.processes.insert(
            1,
            subprocess.Popen(
                ["zurl", f"--config={rundir / 'zurl.conf'}"], stdout=log, stderr=subprocess.STDOUT
            ),
        )
        for url, process in zip(layout.server_urls, layout.processes[2:], strict=True):
            wait_for(f"{url}/health", process=process)
        wait_for(f"{layout.url}/health", process=layout.processes[0])
    except BaseException:
        layout.stop()
        raise
    return layout


def main() -> None:
    parser = argparse.ArgumentParser(description="Pushpin in front of several Daphne processes")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--port", type=int, default=7999)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        logger.warning("DATABASE_URL is not PostgreSQL: several processes on one SQLite file contend for its lock")
    layout = start(servers=args.servers, port=args.port)
    logger.info("Pushpin on %s -> %s (publish %s); logs in %s", layout.url, ", ".join(layout.server_urls),
                layout.publish_url, layout.work_dir)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        layout.stop()


if __name__ == "__main__":
    main()
