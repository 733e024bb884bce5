# spotdrain — make help lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint typecheck cfn-lint unit clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

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

unit: $(STAMP) ## pytest: unit, contract, definition and whole-workflow tests
	$(BIN)/pytest

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
