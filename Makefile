# The two commands: `make run` and `make test`. Everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install messages clean-db worker beat

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Serve the portal with a demo county. Without DATABASE_URL/REDIS_URL: SQLite and
# in-process tasks. With both: PostgreSQL, plus a Celery worker and beat.
run: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --no-input -v 0
	DEBUG=1 $(BIN)/python manage.py seed_demo --scale demo --if-empty
	@# Today's projection, so the alert queue is not empty before the first night (idempotent).
	DEBUG=1 $(BIN)/python manage.py run_projection > /dev/null
	@# The season outlook of today (nothing projected while the New Year is more than 90 days away).
	DEBUG=1 $(BIN)/python manage.py run_projection --outlook > /dev/null
	@if [ -n "$$REDIS_URL" ]; then \
	  echo "Starting a Celery worker and beat (logs in .run/)"; mkdir -p .run; \
	  DEBUG=1 $(BIN)/celery -A zhoukou_grid worker --loglevel INFO --concurrency 2 > .run/worker.log 2>&1 & \
	  DEBUG=1 $(BIN)/celery -A zhoukou_grid beat --loglevel INFO --schedule .run/celerybeat-schedule > .run/beat.log 2>&1 & \
	fi; \
	trap 'kill 0' INT TERM EXIT; \
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload

test: $(STAMP)
	ZG_TESTING=1 $(BIN)/python manage.py makemigrations --check --dry-run -v 0
	ZG_TESTING=1 $(BIN)/pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	ZG_TESTING=1 $(BIN)/python manage.py makemigrations --check --dry-run -v 0
	@# The rooms' import directions (also in the suite: tests/test_layers.py).
	ZG_TESTING=1 $(BIN)/pytest -q -p no:cacheprovider tests/test_layers.py
	@# Pinned versions against PyPI's advisories (see the script's docstring). Exit 2 means
	@# PyPI could not be asked (an offline machine): skipped with a message, not a pass.
	@$(BIN)/python tools/dependency_audit.py; status=$$?; \
	if [ $$status -eq 2 ]; then echo "make lint: dependency audit SKIPPED: PyPI could not be reached"; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

bench: $(STAMP)
	$(BIN)/python bench/seed_city

# Regenerate and compile translations (needs GNU gettext); the .mo files are committed.
messages: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore ".venv/*" --ignore "staticfiles/*"
	DEBUG=1 $(BIN)/python manage.py compilemessages --ignore ".venv/*"
