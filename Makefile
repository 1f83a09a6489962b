# Two commands on a fresh machine: `make dev` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

export POCKETAI_HOME := $(abspath $(or $(POCKETAI_HOME),.pocketai))
export DAGSTER_HOME := $(CURDIR)
# Without DATABASE_URL / DAGSTER_PG_URL, the catalog and Dagster's storage use the embedded PostgreSQL.
EMBEDDED := $(PY) -m pocketai_pipeline.catalog.embedded
# dev, viewer, sync, demo, demo-dev: see pocketai_pipeline/devserver.py
DEVSERVER := $(PY) -m pocketai_pipeline.devserver
DAGSTER_HOST ?= 127.0.0.1
DAGSTER_PORT ?= 3000
DAGSTER_VIEWER_PORT ?= 3001
DEMO_HOME ?= .pocketai-demo
ADD ?= 5
CHANGE ?= 10
REMOVE ?= 3
VERBOSE_FLAG = $(if $(filter-out 0 no false,$(VERBOSE)),--verbose)
DEMO_FLAG = $(if $(filter-out 0 no false,$(DEMO)),--home $(abspath $(DEMO_HOME)))

.PHONY: dev viewer install sync demo demo-dev demo-change migrate psql test test-fast bench bench-hub stop lock clean browser-deps psql-deps

install: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

dev: install  ## the Dagster UI and daemon at http://127.0.0.1:$(DAGSTER_PORT), on the embedded PostgreSQL; Ctrl-C stops all
	@exec $(DEVSERVER) dev --host $(DAGSTER_HOST) --port $(DAGSTER_PORT)

viewer: install  ## a read-only Dagster UI at http://127.0.0.1:$(DAGSTER_VIEWER_PORT) (no login: keep it on 127.0.0.1)
	@exec $(DEVSERVER) viewer --host $(DAGSTER_HOST) --port $(DAGSTER_VIEWER_PORT)

sync: install  ## materialize today's partition from the command line: a line per step and the counts (VERBOSE=1: everything)
	@exec $(DEVSERVER) sync $(VERBOSE_FLAG) $(if $(PARTITION),--partition $(PARTITION))

demo: install  ## `make sync` twice against a local fake Hub serving 2,100+ synthetic models; no internet needed
	@exec $(DEVSERVER) demo --home $(abspath $(DEMO_HOME)) $(VERBOSE_FLAG)

demo-dev: install  ## `make dev` on $(DEMO_HOME) against a local fake Hub; `make demo-change` then changes its models
	@exec $(DEVSERVER) demo-dev --home $(abspath $(DEMO_HOME)) --host $(DAGSTER_HOST) --port $(DAGSTER_PORT)

demo-change: install  ## change the running demo Hub's models: make demo-change ADD=5 CHANGE=10 REMOVE=3
	@test -s $(abspath $(DEMO_HOME))/fake-hub.url || { echo "no fake Hub running under $(abspath $(DEMO_HOME)): start make demo-dev first" >&2; exit 1; }
	@$(PY) -m pocketai_pipeline_tests.fake_hub mutate --url "$$(cat $(abspath $(DEMO_HOME))/fake-hub.url)" \
	  --add $(ADD) --change $(CHANGE) --remove $(REMOVE)

migrate: install  ## as the catalog's owner: migrate DATABASE_URL to the newest schema; GRANT_TO=role also grants a sync role its rights
	$(PY) -m pocketai_pipeline.catalog.migrate $(if $(GRANT_TO),--grant-to $(GRANT_TO))

psql: install psql-deps  ## psql on the catalog: DATABASE_URL, else the embedded PostgreSQL of POCKETAI_HOME; DEMO=1: the demo's
	@exec $(EMBEDDED) psql $(DEMO_FLAG)

test: install browser-deps psql-deps  ## the whole suite, end-to-end and browser tests included
	$(VENV)/bin/pytest

test-fast: install  ## without the slow end-to-end tests
	$(VENV)/bin/pytest -m 'not slow'

browser-deps:  ## Debian's chromium, for the browser test (apt-get, as root)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

psql-deps:  ## Debian's postgresql-client (psql), for make psql and its test (apt-get, as root)
	@command -v psql >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client; }

SIZES ?= 1000 2500 10000 100000 1000000
bench: install  ## old job vs pipeline vs dlt vs COPY floor, 4 scenarios per size (all 4 sizes: ~75 min on 2 cores; SIZES="1000 10000": ~3 min)
	$(PY) -m benchmarks.sync_bench --sizes $(SIZES)

bench-hub: install  ## a cold start of 2,500 models against the Hub's quotas in 20 s windows, anonymous and with a token, paced vs today's client (~6 min)
	$(PY) -m benchmarks.bench_hub

stop:  ## stop the embedded PostgreSQL (of POCKETAI_HOME; DEMO=1: the demo's), whoever started it
	@$(EMBEDDED) stop $(DEMO_FLAG)

lock:  ## re-resolve constraints.txt from pyproject.toml
	rm -rf /tmp/pocketai-lock && $(PYTHON) -m venv /tmp/pocketai-lock
	/tmp/pocketai-lock/bin/pip install --quiet --upgrade pip && /tmp/pocketai-lock/bin/pip install --quiet '.[dev]'
	/tmp/pocketai-lock/bin/pip freeze --exclude pocketai_pipeline > constraints.txt

clean: stop
	@$(EMBEDDED) stop --home $(abspath $(DEMO_HOME))
	rm -rf $(VENV) .pocketai .pocketai-demo* storage logs history schedules
