"""`python manage.py fake_yingdao --port 18898`: a fake Yingdao Open API for demos and trials.

Point the workbench at it with RPA_YINGDAO_API_URL=http://127.0.0.1:<port> and the same access
key (RPA_YINGDAO_ACCESS_KEY_ID / RPA_YINGDAO_ACCESS_KEY_SECRET). Each started job runs for
--run-seconds and calls back (both body shapes, with a duplicate and a late out-of-order
callback). client/list lists the workbench's `yingdao` accounts plus the --extra-clients names.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account, DispatchBackend
from tasks.demo_parameters import DEMO_PARAMETERS, yingdao_params
from tasks.models import Task
from yingdao.testing import FakeYingdao, make_server


class Command(BaseCommand):
    help = "Run a fake Yingdao Open API (token, job/start|query|stop, client/list, callbacks, rate limits)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=18898)
        parser.add_argument("--run-seconds", type=float, default=20.0, help="how long each job runs")
        parser.add_argument("--token-ttl", type=int, default=7200, help="access token lifetime (s)")
        parser.add_argument(
            "--extra-clients", default="spare@corp", help="comma list of robots the workbench does not know"
        )

    def handle(self, *args, **opts):
        key_id, key_secret = settings.RPA_YINGDAO_ACCESS_KEY_ID, settings.RPA_YINGDAO_ACCESS_KEY_SECRET
        if not key_id or not key_secret:
            raise CommandError("set RPA_YINGDAO_ACCESS_KEY_ID and RPA_YINGDAO_ACCESS_KEY_SECRET (any values)")
        fake = FakeYingdao(
            key_id=key_id,
            key_secret=key_secret,
            token_ttl=opts["token_ttl"],
            autorun=True,
            run_seconds=opts["run_seconds"],
        )
        names = list(
            Account.objects.filter(dispatch_backend=DispatchBackend.YINGDAO)
            .exclude(yingdao_account_name="")
            .values_list("yingdao_account_name", flat=True)
        )
        names += [name.strip() for name in opts["extra_clients"].split(",") if name.strip()]
        for number, name in enumerate(dict.fromkeys(names)):
            fake.add_client(name, ip=f"10.9.0.{number % 250 + 1}")
        for robot_uuid, app_name in Task.objects.exclude(yingdao_robot_uuid="").values_list("yingdao_robot_uuid", "app_name"):
            if app_name in DEMO_PARAMETERS:  # "Load parameters from Yingdao" has something to load
                fake.set_robot_params(robot_uuid, yingdao_params(DEMO_PARAMETERS[app_name]), [{"name": "total_items", "type": "int"}])
        try:
            server = make_server(fake, opts["host"], opts["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on {opts['host']}:{opts['port']}: {exc}") from None
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.stdout.write(f"fake Yingdao Open API on {fake.url} ({len(fake.clients)} robots listed)")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            server.server_close()
