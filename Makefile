# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## make run: migrate, load the demo the first time, serve http://127.0.0.1:5000
run: install
	$(BIN)/flask --app app db upgrade
	$(BIN)/flask --app app seed-demo
	$(BIN)/python app.py

## make test: the whole suite
test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache

## make lint: static checks
lint: install
	$(BIN)/ruff check community tests app.py migrations/env.py
