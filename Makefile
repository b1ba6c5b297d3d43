# The two commands a new user runs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
SAM := SAM_CLI_TELEMETRY=0 $(TOOLS)/bin/sam
PORT ?= 3000
PARAMS ?=

SYSTEM_PACKAGES := libreoffice-writer-nogui python3-uno fonts-dejavu-core

.PHONY: install tools system run test unit lint sam-check bench fuzz clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements-dev.txt layers/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "tasklane needs Python 3.11 (Lambda python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -qq --upgrade pip
	$(VENV)/bin/pip install -qq -r requirements-dev.txt
	$(VENV)/bin/pip install -qq --no-deps -e .
	touch $@

# LibreOffice converts DOCX to PDF (the converter function); Debian's packages, as in its image.
system:
	@if command -v soffice >/dev/null 2>&1 && /usr/bin/python3 -c 'import uno' 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing LibreOffice for DOCX -> PDF: $(SYSTEM_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else echo "LibreOffice is missing. Install it with:"; \
	  echo "  sudo apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES)"; exit 1; fi

tools: $(TOOLS)/.installed

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -qq --upgrade pip
	$(TOOLS)/bin/pip install -qq -r requirements-tools.txt
	touch $@

# PARAMS: template parameter overrides, as sam local takes them: make run PARAMS="SalesforceHosts=127.0.0.1"
run: install system
	$(VENV)/bin/tasklane local --port $(PORT) $(if $(PARAMS),--parameter-overrides $(PARAMS))

test: install tools system lint sam-check
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

# Property-based fuzzing of every route on the local stack, random seeds: EXAMPLES per route (reads: 3x).
fuzz: install
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$(or $(EXAMPLES),500) $(VENV)/bin/pytest -q tests/e2e/test_fuzz.py

bench: install
	$(PY) benchmarks/cold_imports.py
	$(PY) benchmarks/batch.py
	$(PY) benchmarks/generic_tasks.py
	$(PY) benchmarks/jobs.py
	$(PY) benchmarks/documents.py

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .tasklane
