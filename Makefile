# The two commands a newcomer runs: `make run` and `make test`.
# Both make their own virtual environment with the machine's Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/incentives.db
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint types unit install native native-if-possible migrate catalog-check bench clean lock

# The dependencies are installed from the lock, every file checked against its hash,
# then the project itself without dependencies: what runs is what the tests ran with.
# requirements/dev.lock holds the runtime pins (requirements/runtime.lock, which the
# Dockerfile installs) and the tools; requirements/native.lock what the image's build stage
# compiles the engine with; tests/deploy/test_lock.py holds them to pyproject.toml.
DEV_LOCK     := requirements/dev.lock
RUNTIME_LOCK := requirements/runtime.lock
NATIVE_LOCK  := requirements/native.lock

$(BIN)/incentives: pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/incentives

# The rule engine compiled with mypyc (app/native; needs a C compiler), rebuilt when its
# sources change. The service uses it only while it matches the sources in place.
NATIVE_BUILD   := .native/manifest.json
NATIVE_SOURCES := $(wildcard app/domain/*.py app/domain/batch/*.py app/native/*.py)

$(NATIVE_BUILD): $(BIN)/incentives $(NATIVE_SOURCES)
	NATIVE_DIR= $(BIN)/incentives native build --into .native

native: $(NATIVE_BUILD)

# uv resolves for Python 3.11 on every platform and keeps the pins already in the files;
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest releases pyproject.toml
# allows. uv resolves against PyPI; a mirror is named by UV_DEFAULT_INDEX (README, "Operations").
LOCK_ARGS ?=
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" $(LOCK_ARGS)

## Regenerate requirements/*.lock from pyproject.toml (after changing a dependency there)
lock: install
	$(UV_COMPILE) -o $(RUNTIME_LOCK)
	$(UV_COMPILE) --extra dev -c $(RUNTIME_LOCK) -o $(DEV_LOCK)
	$(UV_COMPILE) --extra native -c $(DEV_LOCK) -o $(NATIVE_LOCK)

var:
	mkdir -p var

migrate: install var
	$(BIN)/incentives migrate

catalog-check: install
	$(BIN)/incentives catalog check

# `make run` goes on without the build where it fails (no C compiler): the engine then
# runs interpreted, with the same answers.
native-if-possible: install
	-@$(MAKE) --no-print-directory native || echo "make run: no native build; the rule engine runs interpreted"

## Serve the API on an SQLite file (var/incentives.db); docs at http://127.0.0.1:8000/docs
run: migrate catalog-check native-if-possible
	$(BIN)/incentives serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

# Tests run on every core (pytest-xdist; each worker makes its own databases and ports),
# a module's tests on one worker (and the ledger's by backend: tests/conftest.py).
# Coverage counts the uvicorn servers and commands the tests start as subprocesses too,
# and the suite fails below the floor (measured at 95% of lines and branches; see README).
TEST_WORKERS   ?= auto
COVERAGE_FLOOR ?= 93

# The suite runs once with the engine interpreted, so coverage sees its lines, then the
# engine's and the catalog's tests, and the API's that answer from the engine, again on
# the native build (NATIVE=require: they fail rather than quietly run interpreted).
NATIVE_TESTS ?= tests/unit tests/catalog tests/api/test_eligibility.py tests/api/test_gaps.py \
	tests/api/test_enterprises.py tests/api/test_hostile_input.py tests/deploy/test_native_cli.py

## The whole suite: lint, types, unit, catalog cases, API and database tests (SQLite and PostgreSQL)
test: lint types native
	rm -rf .coverage-data && mkdir -p .coverage-data
	NATIVE=off TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/coverage run -m pytest -q -n $(TEST_WORKERS) --dist loadscope
	$(BIN)/coverage combine -q
	$(BIN)/coverage report --fail-under=$(COVERAGE_FLOOR)
	NATIVE=require NATIVE_DIR= TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope -p no:cacheprovider $(NATIVE_TESTS)

## Every benchmark in turn (bench/README.md; bench/api.py needs wrk: apt-get install wrk).
## One or some: make bench BENCH_ARGS="--only api"
bench: install
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .native .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage-data
