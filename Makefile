# Two commands on a fresh machine (Python 3.11+, Java 17+, Maven):
#   make run   - brings the whole system up on embedded Postgres + Kafka
#   make test  - runs the whole test suite against real Kafka and Postgres
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := .cache/kafka-libs

.PHONY: run test setup runtime lint typecheck clean promtool chromium wrk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q -e ./clients/python
	touch $@

$(JARS)/.fetched: kernel/runtime/kafka/pom.xml
	mvn -B -q -f kernel/runtime/kafka/pom.xml dependency:copy-dependencies -Dkafka.libs.dir=$(abspath $(JARS))
	touch $@

# promtool (Debian package `prometheus`) checks and unit-tests compose/prometheus rules; the
# rule tests fail without it. Installed with apt-get when root (or password-less sudo) allows.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus >/dev/null; \
	  else echo "promtool missing: install it (Debian/Ubuntu: apt-get install prometheus)" >&2; fi; }

# Debian's Chromium (+ chromedriver) for the console's browser tests (tests/e2e), driven by
# Playwright with the system browser: no browser download. Installed only when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium chromium-driver >/dev/null; \
	  else echo "chromium missing: install it (Debian/Ubuntu: apt-get install chromium)" >&2; fi; }

# wrk (Debian package `wrk`) drives the bench's side-by-side workload (`python -m bench --only
# wrk`); the bench's smoke test runs it. Installed only when missing.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      wrk >/dev/null; \
	  else echo "wrk missing: install it (Debian/Ubuntu: apt-get install wrk)" >&2; fi; }

# `make run` needs only the Python packages and the Kafka jars; the tests also need
# promtool, Chromium and wrk.
runtime: $(VENV)/.installed $(JARS)/.fetched

setup: runtime promtool chromium wrk

run: runtime
	$(BIN)/core dev

test: setup
	$(BIN)/pytest -q

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf .core
