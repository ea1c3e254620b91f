# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REFERENCE := .reference/node_modules/.bin/codex
CODEX_VERSION := 0.169.0
SDK_VERSION := 0.163.0

.PHONY: install bytecode demo lint test bench reference sandbox clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The official SDK, without its ~140 MB bundled-binary wheel: tests point it at rootstep.
	$(PY) -m pip install -q --no-deps openai-codex==$(SDK_VERSION)
	touch $(STAMP)

# Bytecode for the package: where PYTHONDONTWRITEBYTECODE is set (as on the build machines),
# every process would otherwise compile rootstep's modules again (≈ 75 ms before the first
# thread/start). Up-to-date files are skipped, so this is quick after the first run.
bytecode: $(STAMP)
	$(PY) -m compileall -q src

# Bubblewrap enforces the command sandbox (rootstep.sandbox); without it sandboxed commands are
# refused, never run bare. Installed from Debian's packages when missing and we may.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
		else \
			echo "bubblewrap not installed: sandboxed commands will be refused" >&2; \
		fi; }

# The reference Codex binary, for wire-compatibility tests and side-by-side benchmarks.
reference: $(REFERENCE)

$(REFERENCE):
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p .reference && npm install --silent --no-audit --no-fund --prefix .reference @openai/codex@$(CODEX_VERSION); \
	else \
		echo "npm not found: reference-binary tests will be skipped" >&2; \
	fi

demo: $(STAMP) bytecode
	$(VENV)/bin/rootstep demo

# Static checks (configured in pyproject.toml): ruff over src, tests and bench; mypy over the
# package (strict for the modules listed there). `make test` runs them first and stops on a finding.
lint: $(STAMP)
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

# Two workers (one per core of the build machines), whole files per worker: most tests wait on
# subprocesses, so two at a time take about half the time. Files go out in collection order (the
# longest first, see tests/conftest.py); the slowest tests are listed at the end.
test: $(STAMP) bytecode reference sandbox lint
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

bench: $(STAMP) bytecode reference sandbox
	$(PY) -m bench

clean:
	rm -rf $(VENV) .reference
