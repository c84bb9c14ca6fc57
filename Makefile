# kcert — every target sets up .venv by itself on first use (only Python 3.11 needed).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kcert-installed

.PHONY: certify test lint pytest bench clean help

help:
	@echo "make certify  full certification of the embedded reference LPS, writes reports/<run>/"
	@echo "make test     kcert's own tests (lint + pytest)"
	@echo "make lint     ruff, mypy on harness/, import-linter contracts"
	@echo "make bench    benchmarks with figures and ratios"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

certify: $(STAMP)
	$(BIN)/kcert certify --sut reference

lint: $(STAMP)
	$(BIN)/ruff check harness conftest.py
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest harness/tests

test: lint pytest

bench: $(STAMP)
	$(BIN)/python -m harness.bench

clean:
	rm -rf $(VENV) reports/2* reports/latest
