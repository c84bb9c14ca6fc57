# kcert — every target sets up .venv by itself on first use (only Python 3.11 needed).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kcert-installed

.PHONY: certify test lint pytest bench clean help packs-dev dist connectathon-demo load-demo

help:
	@echo "make certify  full certification of the embedded reference LPS, writes reports/<run>/"
	@echo "make test     kcert's own tests (lint + pytest)"
	@echo "make lint     ruff, mypy on harness/, import-linter contracts"
	@echo "make bench    benchmarks with figures and ratios"
	@echo "make packs-dev  install the official artefacts from ../shared/corpus as packs"
	@echo "make dist     build the kcert wheel (with its protocols and fixtures) into dist/"
	@echo "make connectathon-demo  six vendors' LPS, proxy and web matrix on 127.0.0.1 (Ctrl-C stops)"
	@echo "make load-demo  a bounded peak hour on the reference FLP service: clean, then with a defect"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Manual (attended) steps are in scope: unattended, the run ends Afventer (exit 3), which is
# the expected outcome here; ANSWERS=fixtures/answers/reference-lps.yaml answers them.
ANSWERS ?=
certify: $(STAMP)
	@rc=0; $(BIN)/kcert certify --sut reference $(if $(ANSWERS),--answers $(ANSWERS)) || rc=$$?; \
	if [ $$rc -eq 3 ]; then \
	  echo "Afventer: manual steps await a tester. Answer them with"; \
	  echo "  $(BIN)/kcert answer latest --answers fixtures/answers/reference-lps.yaml"; \
	  echo "or at the terminal: $(BIN)/kcert answer latest"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check harness conftest.py
	$(BIN)/mypy
	$(BIN)/lint-imports

# The tests run on every core (pytest-xdist); PYTEST_WORKERS=0 runs them in this process.
# A vendor's fast part: make pytest PYTEST_ARGS='-m "not slow"'
PYTEST_WORKERS ?= auto
# Some tests run after the parallel phase, serially in one process: those of the one PostgreSQL
# server (one stalls it with SIGSTOP; found by KCERT_TEST_POSTGRES / KCERT_TEST_PGDATA) and
# those whose verdicts measure the machine (latency SLOs under load: test_load_e2e.py), which
# say so with the marker string KCERT_SERIAL_TEST (a comment in the file is enough).
SERIAL_TESTS := $(shell grep -l -e KCERT_TEST_POSTGRES -e KCERT_TEST_PGDATA -e KCERT_SERIAL_TEST harness/tests/test_*.py)
# The FHIR R4 base package is built from the npm registry once (cached in KCERT_CACHE); without
# a registry the tests that need it skip and say why.
pytest: $(STAMP)
	@$(BIN)/kcert packs build-core >/dev/null || echo "warning: FHIR R4 base package not built; its tests will skip"
	$(BIN)/pytest harness/tests -n $(PYTEST_WORKERS) $(addprefix --ignore=,$(SERIAL_TESTS)) $(PYTEST_ARGS)
	$(BIN)/pytest $(SERIAL_TESTS) $(PYTEST_ARGS)

test: lint pytest

# Install the official artefacts from ../shared/corpus as packs (store: KCERT_PACKS or ~/.kcert/packs).
CORPUS ?= ../shared/corpus
packs-dev: $(STAMP)
	$(BIN)/kcert packs build-core --install
	$(BIN)/kcert packs install $(CORPUS)/cda/schema --id hl7-cda-r2 --version 2005-sdtc --kind cda-schema
	$(BIN)/kcert packs install $(CORPUS)/cda/schematron/dk --id medcom-dk-schematron --version corpus --kind schematron
	$(BIN)/kcert packs install $(CORPUS)/cda/schematron/art-decor --id medcom-art-decor-schematron --version corpus --kind schematron
	$(BIN)/kcert packs install $(CORPUS)/oioxml/schemas --id medcom-oioxml --version corpus --kind oioxml-schema
	for p in $(CORPUS)/fhir/packages/*.tgz; do $(BIN)/kcert packs install $$p || exit 1; done
	$(BIN)/kcert packs list

# The wheel carries the suite: setup.py copies testcases/ and fixtures/ into harness/_suite/
# with the commit it was built from. Install it anywhere: pip install dist/kcert-*.whl
dist: $(STAMP)
	rm -rf build dist
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

# Six reference LPS as six vendors, kcert's simulated roles, the recording proxy and the web
# matrix on loopback; every scenario runs, then the matrix is served until Ctrl-C.
# DEMO_ARGS='--port 9000 --lang en --exit-after 60' passes options on.
DEMO_ARGS ?=
connectathon-demo: $(STAMP)
	$(BIN)/kcert connectathon demo $(DEMO_ARGS)

bench: $(STAMP)
	$(BIN)/python -m harness.bench

# The peak hour of the national figures, bounded, from a Locust master and two workers against
# the reference FLP service the command starts on 127.0.0.1 (the target says reference: true):
# the clean service ends Godkendt (exit 0), the one with LOAD_DEFECT Ikke godkendt (exit 1),
# with the SLO findings naming the operation; both verdicts are printed, the target fails
# otherwise. LOAD_ARGS='--lang en --pdf' passes options on. The global lock is a capacity
# defect, found under the stress shape: make load-demo LOAD_DEFECT=global-lock LOAD_ARGS='--shape stress'
LOAD_PROFILE ?= fixtures/load/flp-demo.yaml
LOAD_TARGET ?= fixtures/load/targets/reference-flp.yaml
LOAD_DEFECT ?= missing-index
LOAD_ARGS ?=
LOAD_RUN = $(BIN)/kcert load run $(LOAD_PROFILE) --target $(LOAD_TARGET) --workers 2 --shape peak --run-time 60s $(LOAD_ARGS)
load-demo: $(STAMP)
	@clean=0; $(LOAD_RUN) || clean=$$?; \
	defect=0; $(LOAD_RUN) --defect $(LOAD_DEFECT) || defect=$$?; \
	echo "load-demo: clean service exit $$clean (0 Godkendt), with $(LOAD_DEFECT) exit $$defect (1 Ikke godkendt)"; \
	test $$clean -eq 0 && test $$defect -eq 1

clean:
	rm -rf $(VENV) reports/2* reports/latest build dist
