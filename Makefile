# Two commands on a fresh machine (Python 3.11+, Java 17+, Maven):
#   make run   - brings the whole system up on embedded Postgres + Kafka
#   make test  - runs the whole test suite against real Kafka and Postgres
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := .cache/kafka-libs

.PHONY: run test setup lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(JARS)/.fetched: core/runtime/kafka/pom.xml
	mvn -B -q -f core/runtime/kafka/pom.xml dependency:copy-dependencies -Dkafka.libs.dir=$(abspath $(JARS))
	touch $@

setup: $(VENV)/.installed $(JARS)/.fetched

run: setup
	$(BIN)/core dev

test: setup
	$(BIN)/pytest -q

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf .core
