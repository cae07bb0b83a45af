"""PostgreSQL's JIT compiler is off on our connections (settings: RPA_PG_JIT, default false). It
compiled statements whose cost estimates went high on tables not analyzed yet: the work queues'
admin list took 456 ms, 425 of them compiling a 30 ms query (bench/README.md, "JIT")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection


def database_options(**env: str) -> dict:
    """DATABASES["default"]["OPTIONS"] as settings build them from this environment."""
    script = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
    answer = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "rpa_workbench.settings", **env},
        capture_output=True, text=True, check=True, cwd=settings.BASE_DIR,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def test_a_postgresql_database_gets_jit_off_keeping_options_of_its_url():
    plain = database_options(DATABASE_URL="postgres://rpa@127.0.0.1:5432/rpa")
    assert plain["options"] == "-c jit=off"
    with_own = database_options(DATABASE_URL="postgres://rpa@127.0.0.1:5432/rpa?options=-c%20statement_timeout%3D5000")
    assert with_own["options"] == "-c statement_timeout=5000 -c jit=off"
    assert "options" not in database_options(DATABASE_URL="postgres://rpa@127.0.0.1:5432/rpa", RPA_PG_JIT="true")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's JIT compiler")
def test_our_connections_run_with_jit_off():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
