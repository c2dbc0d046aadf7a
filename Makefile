# Fairtask: `make run` serves the portal with a Celery worker and beat; `make test` lints and tests.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PG_VERSION = $(shell ls /etc/postgresql 2>/dev/null | head -n1)

.PHONY: install run worker test lint services chromium pango clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install pango
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Fairtask on http://127.0.0.1:8000 (Ctrl-C stops the web server, the worker and beat)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A workforce worker --beat --loglevel=INFO --concurrency=2 \
	  --schedule var/celerybeat-schedule --without-mingle --without-gossip --without-heartbeat & \
	$(PY) manage.py runserver 127.0.0.1:8000

# Start PostgreSQL and Redis when they are down, and make sure the database exists.
services:
	@pg_isready -q || pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) main start
	@for i in $$(seq 1 30); do pg_isready -q && break; sleep 1; done
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
	@psql -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'fairtask'" | grep -q 1 || createdb -U postgres fairtask

# Browser tests drive Debian's Chromium; nothing downloads a browser of its own.
chromium:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# WeasyPrint (pay statements, report PDFs) draws text with the system's Pango.
pango:
	@(ldconfig -p | grep -q libpangoft2-1.0.so.0 && ldconfig -p | grep -q libharfbuzz-subset.so.0) || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)

lint: install services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	DJANGO_SETTINGS_MODULE=workforce.settings.test $(PY) manage.py makemigrations --check --dry-run

test: install services chromium pango lint
	$(VENV)/bin/pytest

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache

# 100,000 tasks (× BENCH_SCALE) from a JSONL file through import_tasks; DATABASE_URL picks the database.
.PHONY: bench-import
bench-import: install services
	$(PY) -m tests.bench.bench_import

# Next task over HTTP: Fairtask under gunicorn against a bare raw-SQL claim endpoint, same run
# (200,000 tasks and 20 s per side, times BENCH_SCALE). BENCH_DATABASE_URL names the scratch
# database it drops and recreates (default postgres://postgres@/fairtask_bench).
.PHONY: bench-assign
bench-assign: install services
	$(PY) -m tests.bench.bench_assign

# The weekly close: 100,000 contractors and 10,000,000 work and time records (times BENCH_SCALE),
# loaded with COPY, closed by manage.py close_period and summed by a raw SQL aggregate in the same
# run. BENCH_DATABASE_URL names the scratch database it drops and recreates
# (default postgres://postgres@/fairtask_bench_close).
.PHONY: bench-close
bench-close: install services
	$(PY) -m tests.bench.bench_close

# The fair-wage CSV of bench-close's week (100,000 contractors × BENCH_SCALE) against `psql \copy` of the
# same rows, in one run. Reuses bench-close's database (BENCH_DATABASE_URL, default
# postgres://postgres@/fairtask_bench_close) when its week is closed with wage checks, else builds it.
.PHONY: bench-report
bench-report: install services
	$(PY) -m tests.bench.bench_report
