# `make help` lists the targets. Everything runs through the project's own .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Daphne refuses WebSocket messages over this many bytes (a frame is at most 64 KiB of text).
WS_MAX_BYTES ?= 262144
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install system-deps run run-cluster admin lint format test test-unit test-js test-pg test-browser bench bench-search messages clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## create .venv and install the pinned requirements

system-deps: ## install redis-server, nginx, chromium and its Chinese and emoji fonts from Debian when missing
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || missing="$$missing nginx-light"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || missing="$$missing fonts-noto-color-emoji"; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install ## set up and serve the site on http://$(HOST):$(PORT) (SQLite, in-memory layer)
	DJANGO_DEBUG=true $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=true $(PY) manage.py seed_demo
	@echo
	@echo "  Serving http://$(HOST):$(PORT)/  -- sign up there, or create an admin with: make admin"
	@echo
	DJANGO_DEBUG=true $(VENV)/bin/daphne -b $(HOST) -p $(PORT) \
		--websocket-max-message-size $(WS_MAX_BYTES) chatsite.asgi:application

CLUSTER_REDIS_PORT ?= 6390

run-cluster: install ## a local Redis and two Daphne workers on http://$(HOST):8001 and :8002
	@command -v redis-server >/dev/null || $(MAKE) system-deps
	DJANGO_DEBUG=true $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=true $(PY) manage.py seed_demo
	@echo
	@echo "  Two workers on one Redis (port $(CLUSTER_REDIS_PORT)): http://$(HOST):8001/ and http://$(HOST):8002/"
	@echo
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	redis-server --port $(CLUSTER_REDIS_PORT) --bind 127.0.0.1 --save "" --appendonly no \
		--logfile "" >/dev/null & \
	sleep 1; \
	for port in 8001 8002; do \
		DJANGO_DEBUG=true REDIS_URL=redis://127.0.0.1:$(CLUSTER_REDIS_PORT)/0 \
		$(VENV)/bin/daphne -b $(HOST) -p $$port --websocket-max-message-size $(WS_MAX_BYTES) \
			chatsite.asgi:application & \
	done; \
	wait

admin: install ## create a superuser for /admin/ (asks for a name and password)
	DJANGO_DEBUG=true $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=true $(PY) manage.py createsuperuser

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test-unit: install system-deps ## the suite except the browser test (DATABASE_URL picks the database)
	$(VENV)/bin/pytest -m "not browser" tests

test-js: ## the client core's unit tests, with Node's own test runner
	node --test tests/js/

test-browser: install system-deps ## the Playwright test, in a process of its own
	$(VENV)/bin/pytest -m browser tests

test: lint test-unit test-js test-browser ## install what is missing, lint, run the whole suite

test-pg: install system-deps ## the suite against PostgreSQL on 127.0.0.1:5432
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/chat} $(VENV)/bin/pytest -m "not browser" tests

# Translators: re-extract every string into chat/locale/zh_Hans (.po), then compile the .mo
# files. Needs GNU gettext (installed when missing); `make test` checks the result without it.
I18N_IGNORE := --ignore=.venv --ignore=bench --ignore=tests --ignore=staticfiles \
	--ignore=node_modules --ignore=media --ignore=examples
messages: install ## re-extract the translatable strings into chat/locale and compile them
	@command -v msgfmt >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq gettext >/dev/null; }
	DJANGO_DEBUG=true $(PY) manage.py makemessages -l zh_Hans -d django --no-location $(I18N_IGNORE)
	DJANGO_DEBUG=true $(PY) manage.py makemessages -l zh_Hans -d djangojs --no-location $(I18N_IGNORE)
	DJANGO_DEBUG=true $(PY) manage.py compilemessages -l zh_Hans $(I18N_IGNORE)
	DJANGO_DEBUG=true $(PY) manage.py checkmessages

# Options after BENCH_ARGS, e.g. make bench BENCH_ARGS="--targets product --scenarios A"
bench: install system-deps ## run the benchmarks (bench/): the product against the tutorial consumer and a raw server
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

# PostgreSQL on 127.0.0.1:5432 (a database chat_search_bench of its own), then SQLite.
bench-search: install ## search latency, index size and indexing cost: 1M messages on PostgreSQL, 100K on SQLite
	$(VENV)/bin/python -m bench.search --engine postgresql $(BENCH_ARGS)
	$(VENV)/bin/python -m bench.search --engine sqlite $(BENCH_ARGS)

clean: ## remove the venv, local databases and collected static files
	rm -rf $(VENV) db.sqlite3 .test-db-*.sqlite3* staticfiles
