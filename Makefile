# SweetDream: `make run` serves the shop locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstall only when the requirements change, so a second `make run` starts in seconds.
DEPS := $(VENV)/.deps-installed

.PHONY: deps run test lint bench clean

$(DEPS): requirements.txt requirements-dev.txt
	@echo "==> Installing Python dependencies into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Just the Python dependencies (CI jobs that only synthesize or diff).
deps: $(DEPS)

run: $(DEPS)
	@$(PY) -m services.local_run

test: $(DEPS)
	@$(PY) -m pytest

# Load test on loopback (needs wrk: apt-get install -y wrk); writes bench/results.json.
bench: $(DEPS)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install -y wrk" >&2; exit 2; }
	@$(PY) -m bench.run

lint: $(DEPS)
	@$(PY) -m ruff check .

clean:
	rm -rf .data .pytest_cache
