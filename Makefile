# yibao — fresh clone, two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench pg-up browser-deps federation-demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

## make demo: migrate, load Yongchuan reference data and past cases on SQLite, serve on :8000
demo: setup
	$(BIN)/yibao demo --host 127.0.0.1 --port 8000 --data-dir var/demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/bandit -q -r src -lll

typecheck: setup
	$(BIN)/mypy src

## PostgreSQL must be up for the tests; start the local cluster if it is not.
pg-up:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  (command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start) || true
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1

## Browser tests drive Debian's Chromium (Playwright's own download does not work here).
browser-deps:
	@test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk)

## make test: lint, types, and every test on SQLite and PostgreSQL, browser journeys included
test: setup lint typecheck pg-up browser-deps
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup

unit: setup
	$(BIN)/python -m pytest tests/unit -q

## make bench: benchmarks (figures go to bench/results/, see docs/benchmarks.md)
bench: setup pg-up
	$(BIN)/python bench/bench_calendar.py
	$(BIN)/python bench/bench_intake.py
	$(BIN)/python bench/bench_pages.py
	$(BIN)/python bench/bench_transfers.py
	$(BIN)/python bench/bench_station_work.py
	$(BIN)/python bench/bench_audit.py

federation-demo: setup
	$(BIN)/yibao federation demo

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache bench/results
