# Two entry points for a newcomer (see README.md):
#   make demo   a dashboard on a live simulated curriculum run
#   make test   the whole test suite
# Both create .venv and install what they need themselves.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-run
PORT ?= 8501

.PHONY: demo test check bench setup-dashboard setup-dev browser clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Dashboard + demo only: no torch, no test tools.
$(VENV)/.dashboard-installed: pyproject.toml requirements-dashboard.txt | $(BIN)/python
	$(BIN)/pip install -q -e ".[dashboard]"
	touch $@

# Everything the tests need; torch pinned to the CPU build on disk (no multi-GB download).
$(VENV)/.dev-installed: pyproject.toml requirements-dashboard.txt | $(BIN)/python
	$(BIN)/pip install -q -e ".[dashboard,dev,torch,bench]"
	touch $@

setup-dashboard: $(VENV)/.dashboard-installed
setup-dev: $(VENV)/.dev-installed

# Debian's Chromium for the real-browser tests (Playwright drives it; it cannot download its own).
browser:
	@bash scripts/ensure-chromium.sh

demo: setup-dashboard
	@bash scripts/demo.sh "$(DEMO_DIR)" "$(PORT)"

test: setup-dev browser
	$(BIN)/python -m pytest

check: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup-dev
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
