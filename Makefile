# wdh developer tasks. Every target installs what it needs first, so each one
# works on a fresh machine with only Python >= 3.11 on it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The demo uses its own embedded server home unless the caller chose one.
export WDH_HOME ?= $(CURDIR)/.wdh-demo

.PHONY: install demo test lint format bench clean stop-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "wdh needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

## The main job on the embedded database with the files in examples/:
## migrate, load the overrides, resolve, drain the queue, resolve again,
## review what is left (a script plays the person), resolve a third time;
## the same rows as a table: resolved in place, then rewritten.
demo: export WDH_ALIAS_SALT ?= demo-salt-not-for-production
demo: export WDH_DIRECTORY_PATH ?= $(CURDIR)/examples/directory.csv
demo: install
	$(BIN)/wdh migrate up
	$(BIN)/wdh db check
	$(BIN)/wdh mappings check mappings examples/mappings.csv
	$(BIN)/wdh mappings load mappings --source yaml
	$(BIN)/wdh mappings load examples/mappings.csv --mode upsert
	@echo "--- first run: unknown names get temporary IDs and are queued"
	$(BIN)/wdh resolve examples/annuity.xlsx --budget 2 --provider directory \
		--export-unknown examples/annuity.unknown.csv
	@echo "--- the same rows as a warehouse table, resolved in place"
	$(BIN)/python examples/load_table.py examples/annuity.xlsx demo.annuity
	$(BIN)/wdh resolve --table demo.annuity --add-columns --budget 2 --provider directory
	$(BIN)/wdh queue status
	@echo "--- the drain looks the queued names up in examples/directory.csv"
	$(BIN)/wdh queue drain --provider directory
	@echo "--- second run: the names now come from the cache (db:name)"
	$(BIN)/wdh resolve examples/annuity.xlsx --budget 2 --provider directory
	@echo "--- review: what no provider could answer goes to a person"
	$(BIN)/wdh review export examples/annuity.review.xlsx
	$(BIN)/python examples/decide_review.py examples/annuity.review.xlsx \
		examples/annuity.decided.csv --company-id 611208836
	$(BIN)/wdh review apply examples/annuity.decided.csv
	@echo "--- third run: the reviewed name comes from the cache too (db:name)"
	$(BIN)/wdh resolve examples/annuity.xlsx --budget 2 --provider directory
	$(BIN)/wdh queue resolved --output examples/annuity.temp-ids.csv
	@echo "--- the warehouse table: its temporary IDs become the companies found since"
	$(BIN)/wdh rewrite --table demo.annuity --dry-run
	$(BIN)/wdh rewrite --table demo.annuity
	@echo "--- output: examples/annuity.resolved.xlsx"

## Stop the demo's embedded server.
stop-demo: install
	$(BIN)/wdh db stop

## The whole suite on real PostgreSQL, with line and branch coverage of wdh_cli
## (printed at the end; under 85% fails the run).
test: install
	$(BIN)/python -m pytest --cov --cov-report=term

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
