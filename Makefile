# SweetDream: `make run` serves the shop locally, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstall only when the requirements change, so a second `make run` starts in seconds.
DEPS := $(VENV)/.deps-installed

# Node 22 and the pinned CDK CLI come from package-lock.json; the CDK's jsii runtime runs on that Node
# (the machine's Node 20 is end-of-life for jsii).
NODE_DEPS := node_modules/.package-lock.json
export JSII_NODE := $(CURDIR)/node_modules/node/bin/node

.PHONY: deps run test lint bench synth clean analytics bench-analytics

$(DEPS): requirements.txt requirements-dev.txt
	@echo "==> Installing Python dependencies into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Both toolchains, for a machine that deploys: the venv and Node 22 with the pinned CDK CLI.
deps: $(DEPS) $(NODE_DEPS)

$(NODE_DEPS): package.json package-lock.json
	@echo "==> Installing Node 22 and the CDK CLI (npm ci)"
	@npm ci --no-audit --no-fund
	@touch $@

run: $(DEPS)
	@$(PY) -m services.local_run

test: $(DEPS) $(NODE_DEPS)
	@$(PY) -m pytest

# Both environments' CloudFormation into cdk.out/, offline, through the cdk-nag gate.
synth: $(DEPS) $(NODE_DEPS)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

# Load test on loopback (needs wrk: apt-get install -y wrk); writes bench/results.json.
bench: $(DEPS)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install -y wrk" >&2; exit 2; }
	@$(PY) -m bench.run

# The local event log (.data/events.jsonl) into .data/analytics/, in the S3 export's layout.
analytics: $(DEPS)
	@$(PY) -m lambdas.analytics_export.local

# 1,000,000 synthetic events through the export core; fails if peak memory reaches 512 MB.
bench-analytics: $(DEPS)
	@$(PY) -m lambdas.analytics_export.benchmark

lint: $(DEPS)
	@$(PY) -m ruff check .

clean:
	rm -rf .data .pytest_cache cdk.out
