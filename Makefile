# spotdrain — make help lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
CHROMIUM := /usr/bin/chromium

.PHONY: help demo test lint typecheck cfn-lint package unit bench sfn-local screenshots clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium renders the `spotdrain history --html` pages in tests/test_html_browser.py.
$(CHROMIUM):
	@echo "Installing Debian's chromium (apt) for the browser test of the HTML pages"
	@if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null

demo: $(STAMP) ## Simulate a Spot interruption end to end, offline (real workflow + handlers on moto)
	$(BIN)/spotdrain simulate

test: $(STAMP) lint typecheck cfn-lint unit ## The whole suite: ruff, mypy, cfn-lint, pytest

lint: $(STAMP) ## ruff (lint + format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

cfn-lint: $(STAMP) ## cfn-lint template.yaml (no rule ignored)
	$(BIN)/cfn-lint template.yaml

package: $(STAMP) ## Build the deployable artifact into .aws-sam/build (what sam build makes; sam deploy takes it)
	$(BIN)/python tools/package.py

unit: $(STAMP) $(CHROMIUM) package ## pytest: unit, contract, definition, whole-workflow, browser and artifact tests
	$(BIN)/pytest

bench: $(STAMP) package ## Benchmarks against the naive designs: prints the table, writes docs/benchmarks.md + .png
	$(BIN)/python -m benchmarks

SFN_LOCAL := docker compose -f tests/statemachine/compose.yaml
sfn-local: $(STAMP) ## The mocked test cases on amazon/aws-stepfunctions-local (needs Docker; not in make test)
	@if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then \
	  echo "make sfn-local: no Docker engine answers here (docker info failed), so Step Functions Local cannot run." >&2; \
	  echo "The same test cases run on the local engine in make test (tests/test_mock_config.py)." >&2; \
	  exit 1; \
	fi
	$(SFN_LOCAL) up -d
	$(BIN)/python tools/wait_for_port.py 127.0.0.1 8083 60
	SFN_LOCAL_ENDPOINT=http://127.0.0.1:8083 $(BIN)/pytest -p no:cacheprovider tests/sfn_local; \
	  status=$$?; $(SFN_LOCAL) down; exit $$status

screenshots: $(STAMP) $(CHROMIUM) ## Re-render docs/history-*.png (the README's pictures of --html pages)
	$(BIN)/python tools/screenshot_history.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
