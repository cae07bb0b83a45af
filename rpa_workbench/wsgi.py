"""WSGI entry point (management tooling only; the server is Daphne on asgi.py)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rpa_workbench.settings")
application = get_wsgi_application()
