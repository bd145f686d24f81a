# Two commands do all the set-up on a fresh machine (python3, pip and make):
#   make run    the platform on its embedded default (SQLite + Temporal dev server)
#   make test   lint, types, layer contracts and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test check install bench clean

run: $(STAMP)
	$(BIN)/c2b dev

test: $(STAMP) check
	$(BIN)/pytest

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r api activities workflows models optimizer c2b bench

install: $(STAMP)

# The venv is (re)built whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@# The planners' page is tested in Debian's Chromium (playwright never downloads one).
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  >/dev/null 2>&1 || echo "could not install chromium: tests/e2e/test_planner_page.py will fail"; }
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/c2b bench intake
	$(BIN)/python -m bench.wakeup
	$(BIN)/c2b bench claims
	$(BIN)/c2b bench orchestration
	$(BIN)/c2b bench history

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
