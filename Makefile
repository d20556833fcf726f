# Two commands a newcomer needs: `make run` and `make test`. Both build .venv from pyproject.toml first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench messages clean

# Runtime dependencies plus the `local` extra (`make run`'s Temporal dev server and SMTP sink, which the tests
# use too) and the `dev` extra (tests, lint). Production installs the runtime dependencies only (Dockerfile).
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) run_local.py

# Two processes, each with its own Temporal servers, SMTP server and databases (every fixture is per session, on
# free ports and fresh names); a file's tests stay together in one. Much of the suite waits on real timeouts
# (a killed worker's activity, a stopped server), so two halve it on two cores: about 6 minutes, not 10.
TEST_PROCESSES ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile

# ruff, mypy, deptry (every import declared, no unused runtime dependency), import-linter (the layers).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/deptry .
	$(VENV)/bin/lint-imports --no-logo --cache-dir $(VENV)/.import_linter_cache

# The figures against their targets (issue #16), one table; never pass/fail. ARGS=--small (CI), ARGS=--england.
ARGS ?=
bench: $(STAMP)
	$(PY) -m bench.run $(ARGS)

# Every email and link page a recipient sees, for every kind, party and ladder level (docs/messages/).
messages: $(STAMP)
	$(PY) -m web.message_examples

clean:
	rm -rf $(VENV) var
