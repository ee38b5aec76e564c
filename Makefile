# The two commands of the README: `make run` (install, start web + worker, send demo traffic) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test lint format bench clean

# uv installs the environment in seconds where pip takes minutes; pip stays the fallback (no uv on the index,
# or uv failing): `make PEEKR_INSTALLER=pip run` forces it.
PEEKR_INSTALLER ?= uv
INSTALL = scripts/install.sh $(PY) $(PEEKR_INSTALLER)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(INSTALL) -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(PY) scripts/run.py

# On a machine with neither PostgreSQL nor Redis this runs on the laptop default (SQLite + filesystem broker);
# .ci/run sets PEEKR_DATABASE_URL and PEEKR_BROKER_URL to run the same suite against both.
# Clients whose SDK pins other OpenTelemetry releases run from venvs of their own (tests/dropin/).
CLIENT_VENVS := .venv-clients/traceloop/.installed-$(shell cksum tests/clients/requirements-traceloop.txt | cut -d' ' -f1)

$(CLIENT_VENVS): tests/clients/requirements-traceloop.txt
	test -x .venv-clients/traceloop/bin/python || $(PYTHON) -m venv .venv-clients/traceloop
	scripts/install.sh .venv-clients/traceloop/bin/python $(PEEKR_INSTALLER) -r tests/clients/requirements-traceloop.txt
	rm -f .venv-clients/traceloop/.installed-*
	touch $@

test: $(STAMP) $(CLIENT_VENVS)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) scripts/test_env.py $(PY) -m pytest $(PYTEST_ARGS)
	@# Against PostgreSQL the SQLite-only tests (the write queue, FTS5) skip: run them on the laptop default too.
	@if [ -n "$$PEEKR_DATABASE_URL" ]; then \
	  env -u PEEKR_DATABASE_URL -u PEEKR_BROKER_URL PEEKR_TEST_DATA_DIR="$${PEEKR_TEST_DATA_DIR:-var/test}-sqlite" \
	    $(PY) scripts/test_env.py $(PY) -m pytest -q -m laptop; fi

lint: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) bench/ingest.py

clean:
	rm -rf var/test
