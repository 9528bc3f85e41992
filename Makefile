# medaid — two commands: `make demo` and `make test`. Everything else is for developers and CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.lock | cut -c1-12)
SERVE ?= 1
# The real services for `make test-services`, `make bench` and the fault tests.
PG_URL ?= postgres://postgres@127.0.0.1:5432/medaid
REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install demo test test-services test-browser bench bad-input-check lint format lock clean

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo
ifeq ($(SERVE),1)
	$(BIN)/python manage.py runserver 127.0.0.1:8000
endif

# Two processes on the two cores this project's machines have.
XDIST ?= -n 2

# The layers contract (pyproject.toml) first: an import that runs up the house fails the tests.
test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -m "not integration and not browser" -q $(XDIST)

# The suite again on PostgreSQL (in parallel), then the integration tests one at a time: they
# share one Redis database and start real workers.
test-services: install
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -m "not integration and not browser" -q $(XDIST)
	DATABASE_URL=$(PG_URL) MEDAID_TEST_REDIS_URL=$(REDIS_URL) \
		$(BIN)/python -m pytest -m "integration" -q

# Each walk drives its own Chromium against its own live server and database: two at once.
test-browser: install
	bash .ci/install-chromium
	$(BIN)/python -m pytest -m browser -q $(XDIST)

bench: install
	$(BIN)/python bench/engine.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/roster_import.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/claims.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/replay.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/backdate.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/reconcile.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/settlement.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/reports.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/admin_pages.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/account_statement.py
	DATABASE_URL=$(PG_URL) CELERY_BROKER_URL=$(REDIS_URL) $(BIN)/python bench/api_load.py

# The independent bad-input check of issue #19 (bench/bad_input_check.py): it rebuilds the demo
# of 保山市 on that database first, then sends its bad and valid inputs; the last line is JSON.
bad-input-check: install
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py migrate -v0
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py demo --areas baoshan
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/bad_input_check.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile requirements.in --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) db.sqlite3 out var .pytest_cache .ruff_cache .hypothesis
