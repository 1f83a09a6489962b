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
TODAY = $$(date -u +%F)

.PHONY: dev install sync demo test test-fast bench stop lock clean browser-deps

install: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

dev: install  ## the Dagster UI and daemon at http://127.0.0.1:3000, on the embedded PostgreSQL
	@trap '$(EMBEDDED) stop' EXIT; $(EMBEDDED) url --database dagster >/dev/null; \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${DAGSTER_PORT:-3000}

sync: install  ## materialize today's partition from the command line and print the counts
	@test -e $$POCKETAI_HOME/pg/postmaster.pid || trap '$(EMBEDDED) stop >/dev/null' EXIT; \
	  $(VENV)/bin/dagster asset materialize -m pocketai_pipeline.definitions --select '*' --partition $(TODAY) \
	  && $(PY) -m pocketai_pipeline.report

demo: install  ## `make sync` twice against a local fake Hub serving 2,100+ synthetic models; no internet needed
	@export POCKETAI_HOME=$(abspath .pocketai-demo); mkdir -p $$POCKETAI_HOME; rm -f $$POCKETAI_HOME/fake-hub.url; \
	  $(PY) -m pocketai_pipeline_tests.fake_hub --port 0 --models 2100 --page-size 500 --edge-cases \
	    --url-file $$POCKETAI_HOME/fake-hub.url & HUB=$$!; \
	  trap 'kill $$HUB; $(EMBEDDED) stop' EXIT; \
	  for i in $$(seq 100); do test -s $$POCKETAI_HOME/fake-hub.url && break; sleep 0.2; done; \
	  export HF_ENDPOINT=$$(cat $$POCKETAI_HOME/fake-hub.url); echo "fake Hub at $$HF_ENDPOINT"; \
	  $(MAKE) --no-print-directory sync && echo "--- again: nothing should change ---" && $(MAKE) --no-print-directory sync

test: install browser-deps  ## the whole suite, end-to-end and browser tests included
	$(VENV)/bin/pytest

test-fast: install  ## without the slow end-to-end tests
	$(VENV)/bin/pytest -m 'not slow'

browser-deps:  ## Debian's chromium, for the browser test (apt-get, as root)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

bench: install  ## merge vs the old job's per-row writes: speed and memory, 763 to 10,000 models (3-5 min on 2 cores)
	$(PY) -m benchmarks.sync_bench --latency-ms 0 1

stop:  ## stop the embedded PostgreSQL
	$(EMBEDDED) stop

lock:  ## re-resolve constraints.txt from pyproject.toml
	rm -rf /tmp/pocketai-lock && $(PYTHON) -m venv /tmp/pocketai-lock
	/tmp/pocketai-lock/bin/pip install --quiet --upgrade pip && /tmp/pocketai-lock/bin/pip install --quiet '.[dev]'
	/tmp/pocketai-lock/bin/pip freeze --exclude pocketai_pipeline > constraints.txt

clean: stop
	rm -rf $(VENV) .pocketai .pocketai-demo* storage logs history schedules
