# RPA Workbench — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8888
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint install install-dev migrate messages demo clean fuzz scaleout

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` installs the runtime dependencies only; `make test` adds the dev ones (tests, lint,
# Playwright) from requirements-dev.txt, with its own stamp.
$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The Chinese admin: compile locale/ and django_locale_gaps/ (settings.LOCALE_PATHS; the .mo files are not committed).
# Needs GNU gettext (Debian: apt-get install gettext).
messages: install
	@command -v msgfmt >/dev/null 2>&1 || { echo "msgfmt not found: apt-get install gettext (the admin stays in English)"; exit 0; }; \
	$(BIN)/python manage.py compilemessages --verbosity 0 --ignore '.venv'

run: migrate messages
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py setup_notes
	@echo ""
	@echo "RPA Workbench on http://$(HOST):$(PORT)"
	@echo "  admin:     http://$(HOST):$(PORT)/admin/"
	@echo "  dashboard: http://$(HOST):$(PORT)/dashboard/"
	@echo "  API docs:  http://$(HOST):$(PORT)/docs"
	@echo "  health:    http://$(HOST):$(PORT)/health"
	@echo ""
	$(BIN)/python -m rpa_workbench.serve -b $(HOST) -p $(PORT) rpa_workbench.asgi:application

lint: install-dev
	$(BIN)/ruff check .

# The suite runs in PYTEST_WORKERS processes (pytest-xdist, one test module per worker at a time):
# most of its wall time is spent waiting on the servers tests start, not on the CPU. The Pushpin
# layout tests start several servers each and run in CI's own step (`-m pushpin`).
PYTEST_WORKERS ?= 3
test: lint messages
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not pushpin" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(FUZZ_VENV) var rpa_app.db rpa_app.db-wal rpa_app.db-shm

# `make fuzz`: schemathesis against a live Daphne on a fresh SQLite database, every operation of
# the OpenAPI document, for FUZZ_SECONDS (docs/api-schema.md). schemathesis lives in its own
# virtualenv so its dependencies never mix with the application's.
FUZZ_VENV := .venv-fuzz
FUZZ_SECONDS ?= 100
$(FUZZ_VENV)/.installed: requirements-fuzz.txt
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet -r requirements-fuzz.txt
	touch $@

fuzz: install $(FUZZ_VENV)/.installed
	$(BIN)/python scripts/fuzz_api.py --seconds $(FUZZ_SECONDS) --schemathesis $(FUZZ_VENV)/bin/schemathesis

# `make demo`: `make run` plus demo robots and tasks, the robot simulator as the relay, and
# tasks scheduled every minute or two. Ctrl-C stops Daphne and the simulator. The resource proxy
# allows 127.0.0.1 (the simulator serves its screenshots and logs there): demo only, never in production.
SIM_PORT ?= 18899
ALERT_PORT ?= 18900
# The fake Yingdao Open API the demo's `yingdao` robots are dispatched through (docs/yingdao.md).
YD_PORT ?= 18898
demo: migrate messages
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin
	@token="$${RPA_WEBHOOK_TOKEN:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')}"; \
	export RPA_WEBHOOK_TOKEN="$$token" RPA_RELAY_URL="http://127.0.0.1:$(SIM_PORT)/yingdao"; \
	export RPA_DEMO_ALERT_PORT=$(ALERT_PORT) RPA_DEMO_ALERT_SECRET="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))')"; \
	export RPA_ALERT_ALLOWED_INTERNAL_HOSTS="$${RPA_ALERT_ALLOWED_INTERNAL_HOSTS:-127.0.0.1}"; \
	export RPA_YINGDAO_API_URL="http://127.0.0.1:$(YD_PORT)" RPA_PUBLIC_URL="http://$(HOST):$(PORT)"; \
	export RPA_PROXY_ALLOWED_HOSTS="$${RPA_PROXY_ALLOWED_HOSTS:+$$RPA_PROXY_ALLOWED_HOSTS,}127.0.0.1"; \
	export RPA_YINGDAO_ACCESS_KEY_ID="$${RPA_YINGDAO_ACCESS_KEY_ID:-demo-key}" RPA_YINGDAO_ACCESS_KEY_SECRET="$${RPA_YINGDAO_ACCESS_KEY_SECRET:-$$token}"; \
	$(BIN)/python manage.py seed_demo; \
	$(BIN)/python manage.py simulate_robots --port $(SIM_PORT) --callback http://$(HOST):$(PORT) --run-seconds 15-40 --fail-first price_monitor & sim=$$!; \
	$(BIN)/python manage.py alert_receiver --port $(ALERT_PORT) & receiver=$$!; \
	$(BIN)/python manage.py fake_yingdao --port $(YD_PORT) --run-seconds 30 & yd=$$!; \
	trap 'kill $$sim $$receiver $$yd 2>/dev/null; wait $$sim $$receiver $$yd 2>/dev/null' EXIT INT TERM; \
	echo ""; \
	echo "RPA Workbench demo on http://$(HOST):$(PORT)  (dashboard: /dashboard/, admin: /admin/)"; \
	echo "  simulated robots answer on $$RPA_RELAY_URL; scheduled demo tasks start within two minutes, a queue and a retry within 20 s"; \
	echo "  alerts (failed runs, ...) are printed by the receiver on http://127.0.0.1:$(ALERT_PORT)/alerts"; \
	echo "  demo_yd_01 runs on the Yingdao backend: a fake Open API on $$RPA_YINGDAO_API_URL"; \
	echo ""; \
	$(BIN)/python -m rpa_workbench.serve -b $(HOST) -p $(PORT) rpa_workbench.asgi:application

# `make scaleout`: Pushpin on :7999 in front of two Daphne processes (docs/production.md).
# Needs `apt-get install pushpin` and DATABASE_URL=postgres://… (several processes, one database).
scaleout: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m rpa_workbench.scaleout --servers $${SERVERS:-2} --port $${PUSHPIN_PORT:-7999}
