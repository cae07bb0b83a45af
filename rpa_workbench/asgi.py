"""ASGI entry point served by Daphne: `daphne rpa_workbench.asgi:application`."""
import os

from rpa_workbench.handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
application = get_asgi_application()

# The scheduler + watchdog loop runs inside the server process unless RPA_EMBEDDED_SCHEDULER=false.
from rpa_workbench import embedded  # noqa: E402 — needs the settings configured above

embedded.start()
