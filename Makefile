# Vietnamese customer-support assistant: every command a newcomer or CI needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
DATA_DIR  := .data
export BOT_DB_URL        ?= sqlite:///$(CURDIR)/$(DATA_DIR)/subscribers.db
export TRACKER_DB_PATH   ?= $(CURDIR)/$(DATA_DIR)/tracker.db
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL   := 3
export PYTHONHASHSEED         := 0
# Secrets (RASA_AUTH_TOKEN, RASA_JWT_SECRET, ACTION_SERVER_TOKEN): from the environment, or
# created once in .data/secrets.env (0600) by `bot secrets env` (docs/security.md).
SECRETS = exports=$$($(BIN)/bot secrets env) && eval "$$exports"
ACTIONS_PORT    ?= 5055
RASA_PORT       ?= 5005
HANDOFF_PORT    ?= 5006

# Test settings: a smaller NLU config trained into its own folder, a throw-away database.
TEST_MODELS   := .cache/models-test

.PHONY: help install chat run train validate lint typecheck test test-stories test-py eval-nlu eval-conversations db clean browser bench haproxy stack stack-stop stack-status loadtest soak chaos

help: ## Show the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml
	@PY=$$(scripts/find-python.sh) || exit 1; \
	  if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	    rm -rf $(VENV); echo "Creating $(VENV) with $$PY"; "$$PY" -m venv $(VENV) || exit 1; fi
	$(BIN)/pip install --quiet --upgrade "pip<25" "setuptools>=68,<76" wheel
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (Python 3.10) and install the project

db: $(STAMP) ## Create/upgrade the subscriber database and load the demo data
	@mkdir -p $(DATA_DIR)
	$(BIN)/bot db upgrade
	$(BIN)/bot db seed

train: $(STAMP) ## Train the model (skipped when data and config did not change)
	$(BIN)/rasa train --config config.yml --domain domain.yml --data data --out models

chat: db train ## Install, seed, train, then chat in the terminal (demo numbers in README)
	@$(SECRETS) || exit 1; \
	  $(BIN)/bot serve actions --port $(ACTIONS_PORT) > $(DATA_DIR)/actions.log 2>&1 & \
	  pid=$$!; trap "kill $$pid 2>/dev/null" EXIT; \
	  $(BIN)/python -m bot.cli wait-port $(ACTIONS_PORT) || { cat $(DATA_DIR)/actions.log; exit 1; }; \
	  echo "Action server running (log: $(DATA_DIR)/actions.log)."; \
	  $(BIN)/bot db sms --follow & spid=$$!; trap "kill $$pid $$spid 2>/dev/null" EXIT; \
	  $(BIN)/bot serve shell --endpoints endpoints.yml --model models

run: db train ## Production-style: action server + Rasa HTTP API (token + JWT) + channels + agent console
	@$(SECRETS) || exit 1; \
	  $(BIN)/bot serve actions --port $(ACTIONS_PORT) & apid=$$!; \
	  $(BIN)/bot handoff serve --port $(HANDOFF_PORT) & hpid=$$!; \
	  trap "kill $$apid $$hpid 2>/dev/null" EXIT; \
	  echo "Agent console: http://127.0.0.1:$(HANDOFF_PORT)/console/ (bot handoff add-agent NAME)"; \
	  echo "Rasa API: http://127.0.0.1:$(RASA_PORT) (token: RASA_AUTH_TOKEN in .data/secrets.env)"; \
	  $(BIN)/bot serve rasa --port $(RASA_PORT) --endpoints $${ENDPOINTS:-endpoints.yml} \
	    --credentials $${CREDENTIALS:-credentials.yml} --model models

validate: $(STAMP) ## Check stories, rules, domain, training data and pending designer changes; explains in Vietnamese (file:line)
	$(BIN)/bot data validate

bench: $(STAMP) ## Speed and memory benchmark (parse latency, model memory, backend calls; BENCH_ARGS=--train)
	$(BIN)/python scripts/benchmark.py --model models $(BENCH_ARGS)

# --- the production stack and its benchmarks (scripts/stack.py, deploy/stack.yml) ---------
haproxy: ## Debian's HAProxy, the load balancer of `make stack` (apt-get as root)
	@scripts/install-haproxy.sh

stack: $(STAMP) train haproxy ## Start 2 Rasa + 2 action servers + hand-off behind HAProxy, PostgreSQL + Redis, on 127.0.0.1 (logs .data/stack/)
	$(BIN)/python scripts/stack.py start $(STACK_ARGS)

stack-stop: ## Stop the stack started by `make stack`
	$(BIN)/python scripts/stack.py stop

stack-status: ## Which stack processes run and are ready
	$(BIN)/python scripts/stack.py status

loadtest: $(STAMP) train haproxy ## Load test: one instance and the stack, closed loop and thinking users, 20/100/300 users, stock rasa init as reference; report in reports/ (LOADTEST_ARGS=...)
	$(BIN)/python scripts/loadtest.py $${LOADTEST_ARGS:---users 20,100,300 --duration 45 --targets single,stack --think-modes 0,10 --reference}

soak: $(STAMP) train haproxy ## Soak: 30 minutes of moderate load on the stack, memory growth per process (SOAK_MINUTES=30)
	$(BIN)/python scripts/loadtest.py --soak $${SOAK_MINUTES:-30}

chaos: $(STAMP) train haproxy ## Kill/restart Rasa, an action server, Redis, PostgreSQL during Telegram/Zalo load through the inbox (fake provider APIs, loopback, bounded); counts lost/duplicated messages (CHAOS_ARGS=--config PATH ...)
	$(BIN)/python scripts/chaos.py $(CHAOS_ARGS)

lint: $(STAMP) ## ruff
	$(BIN)/ruff check bot actions tests scripts

typecheck: $(STAMP) ## mypy on bot/ and actions/ (strict for the modules listed in pyproject.toml)
	$(BIN)/mypy bot actions

eval-nlu: $(STAMP) ## Train the whole model on data/, evaluate it on the holdout, compare with Rasa's stock pipeline (NLU only)
	$(BIN)/bot nlu eval --whole --report-dir reports

eval-conversations: $(TEST_MODELS)/.trained ## Customer conversations (tests/conversations): task success, turns per task vs the call-center script
	$(BIN)/python scripts/eval_conversations.py --model $(TEST_MODELS)/test.tar.gz

$(TEST_MODELS)/.trained: $(STAMP) config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) scripts/test-config.py
	@mkdir -p $(TEST_MODELS)
	$(BIN)/python scripts/test-config.py config.yml > .cache/config-test.yml
	$(BIN)/rasa train --config .cache/config-test.yml --domain domain.yml --data data --out $(TEST_MODELS) --fixed-model-name test
	@touch $@

test-stories: $(TEST_MODELS)/.trained ## Rasa end-to-end test stories (tests/stories): user text -> intents, entities, actions
	@$(SECRETS) || exit 1; $(BIN)/rasa test core --model $(TEST_MODELS)/test.tar.gz --stories tests/stories \
	  --out .cache/results --e2e --fail-on-prediction-errors; rc=$$?; \
	  if [ $$rc -ne 0 ]; then cat .cache/results/failed_test_stories.yml 2>/dev/null | head -80; fi; exit $$rc

browser: ## Debian's chromium + chromedriver for the agent-console browser test
	@scripts/install-browser.sh

test-py: $(STAMP) $(TEST_MODELS)/.trained browser haproxy ## pytest: backend (SQLite + PostgreSQL), actions, NLU, channels, hand-off
	TEST_MODEL=$(CURDIR)/$(TEST_MODELS)/test.tar.gz $(BIN)/pytest -q -p no:cacheprovider

test: lint typecheck validate test-stories test-py ## Install what is missing and run every test (lint, data validation, stories, pytest)

clean: ## Remove models, caches and local databases (keeps .venv)
	rm -rf models .cache $(DATA_DIR) reports
