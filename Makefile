# The two commands a new user runs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
SAM := SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam
PORT ?= 3000
PARAMS ?=
# Not ?=: a LOG_FORMAT of the shell's, for something else, must not reach --log-format.
LOG_FORMAT = compact

SYSTEM_PACKAGES := libreoffice-writer-nogui python3-uno fonts-dejavu-core jq
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: install tools system browser run test unit lint sam-check bench fuzz openapi clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements-dev.txt layers/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "tasklane needs Python 3.11 (what Lambda runs: python3.11); $(PYTHON) is " + sys.version.split()[0] + ". Install 3.11 (pyenv install 3.11, or your distribution'"'"'s python3.11) and run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)")' \
	  || exit 1
	@echo "Installing tasklane's pinned Python packages into $(VENV) (a minute or two on a fresh machine)..."
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip
	@$(VENV)/bin/pip install -q --progress-bar off -r requirements-dev.txt
	@$(VENV)/bin/pip install -q --no-deps -e .
	@echo "Installed: $$($(VENV)/bin/pip list --format=freeze | wc -l) packages in $(VENV)"
	@touch $@

# LibreOffice converts DOCX to PDF (the converter function); Debian's packages, as in its image.
# jq: the README's walk-through picks ids with it (tests/e2e/test_readme.py runs it).
system:
	@if command -v soffice >/dev/null 2>&1 && /usr/bin/python3 -c 'import uno' 2>/dev/null && command -v jq >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing LibreOffice for DOCX -> PDF, and jq for the README's walk-through: $(SYSTEM_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else echo "LibreOffice or jq is missing. Install them with:"; \
	  echo "  sudo apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES)"; exit 1; fi

# Debian's chromium and its driver: the test that renders /docs in a real browser.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing a headless browser for the /docs test: $(BROWSER_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); \
	else echo "chromium is missing. Install it with:"; \
	  echo "  sudo apt-get install -y --no-install-recommends $(BROWSER_PACKAGES)"; exit 1; fi

tools: $(TOOLS)/.installed

$(TOOLS)/.installed: requirements-tools.txt
	@echo "Installing the SAM CLI into $(TOOLS)..."
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install -q --upgrade pip
	@$(TOOLS)/bin/pip install -q --progress-bar off -r requirements-tools.txt
	@touch $@

# PARAMS: template parameter overrides, as sam local takes them: make run PARAMS="SalesforceHosts=127.0.0.1"
run: install system
	$(VENV)/bin/tasklane local --port $(PORT) --log-format $(LOG_FORMAT) $(if $(PARAMS),--parameter-overrides $(PARAMS))

test: install tools system browser lint sam-check
	$(VENV)/bin/pytest -n 2 -q tests/unit tests/integration tests/local
	$(VENV)/bin/pytest -q tests/e2e

unit: install
	$(VENV)/bin/pytest -q tests/unit

# Each function is its own `app` module, as Lambda loads it: type-check them one by one.
lint: install
	$(VENV)/bin/ruff check layers local functions benchmarks tests
	$(VENV)/bin/mypy layers/tasklane local/tasklane_local
	for app in functions/*/app.py; do $(VENV)/bin/mypy --follow-imports=silent $$app || exit 1; done

# Both run without Docker; the build proves the layer and every function package. The converter is a
# container image: building it needs a Docker engine, so without one it is skipped, and said so.
sam-check: tools
	$(SAM) validate --lint
	@if docker info >/dev/null 2>&1; then $(SAM) build --parallel; else \
	  $(SAM) build --parallel --exclude ConverterFunction && \
	  echo "sam build: ConverterFunction (container image) SKIPPED: building an image needs Docker, which is not running here"; fi

# Fuzzing on the local stack, random seeds: schemathesis from docs/openapi.json over every route
# (EXAMPLES per operation: 31 operations x 80 = about 2,500 requests), then the DAP-deep property run.
fuzz: install
	FUZZ_RANDOM=1 CONTRACT_EXAMPLES=$(or $(EXAMPLES),80) FUZZ_EXAMPLES=$(or $(EXAMPLES),500) \
	  $(VENV)/bin/pytest -q -p no:logging tests/e2e/test_contract_fuzz.py tests/e2e/test_fuzz.py

# The contract, from template.yaml's routes and the families' pydantic models (a test fails when stale).
openapi: install
	$(VENV)/bin/tasklane openapi --output docs/openapi.json

# cost_per_task prices the counted calls with benchmarks/prices/ (see docs/scaling.md); simulate_burst
# models the first minutes of 1,000,000 tasks an hour, text and PDF.
bench: install
	$(PY) benchmarks/cold_imports.py
	$(PY) benchmarks/batch.py
	$(PY) benchmarks/generic_tasks.py
	$(PY) benchmarks/jobs.py
	$(PY) benchmarks/documents.py
	$(PY) benchmarks/cost_per_task.py
	$(PY) benchmarks/simulate_burst.py
	$(PY) benchmarks/simulate_burst.py --pdf-share 1 --minutes 5

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .tasklane
