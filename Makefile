# Trợ lý số: `make run` sets everything up and starts the bot; `make test` sets up, lints and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup model index run lint test bench eval tune clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# CPU-only torch from the local wheel (plain pip; never a CUDA build), then the project
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/trolyso model prepare

index: setup
	$(BIN)/trolyso index

run: index
	$(BIN)/trolyso start

# ruff and mypy come from the test extras; their settings are in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check bot indexer
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m pytest -q -m bench -p no:cacheprovider
	$(BIN)/python bench/run.py
	$(BIN)/python bench/external.py
	PYTHONPATH=. $(BIN)/python bench/report_pg.py
	$(BIN)/python bench/broadcast.py --pg postgresql://postgres@127.0.0.1:5432/test

# the second stage (bot/second_stage.py): fine-tune on the FAQ and the review decisions; never run by `run`
tune: setup
	$(BIN)/trolyso model tune

eval: setup
	$(BIN)/trolyso eval --set ../shared/eval/dev --cv 5

clean:
	rm -rf $(VENV) var
