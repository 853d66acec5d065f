# Two commands for a newcomer: `make demo` and `make test`. Both set everything up on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test system-deps benchmarks lab clean hub

$(BIN)/sre: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	-git config core.hooksPath .githooks 2>/dev/null  # the commit-msg check, in a git checkout
	touch $@

demo: $(BIN)/sre  ## install, then build the demo warehouse (no servers needed)
	$(BIN)/sre demo

system-deps:  ## Debian packages the tests need (servers, exporters, chromium); installs only what is missing
	bash scripts/install-system-deps

test: $(BIN)/sre system-deps  ## install, then lint and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

benchmarks: $(BIN)/sre system-deps  ## run every benchmark script; each prints its figures; exits 1 if any target is missed
	@missed=""; for script in benchmarks/bench_*.py; do \
	  echo "== $$script"; $(BIN)/python $$script || missed="$$missed $$script"; \
	done; if [ -n "$$missed" ]; then echo "targets missed by:$$missed"; exit 1; fi

hub: $(BIN)/sre system-deps  ## start the Community Hub on loopback in the foreground (Ctrl-C stops it); see README
	$(BIN)/sre hub up $(HUB_ARGS)

lab: $(BIN)/sre  ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) build dist data/*.duckdb data/*.duckdb.* reports/*/
