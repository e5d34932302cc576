# yecai — the two commands of the README (make demo, make test) work from a fresh clone:
# they create and fill a local virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint fmt install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/yecai demo

test: $(STAMP)
	$(BIN)/ruff check yecai tests bench
	$(BIN)/ruff format --check yecai tests bench
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check yecai tests bench

fmt: $(STAMP)
	$(BIN)/ruff format yecai tests bench
	$(BIN)/ruff check --fix yecai tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info .yecai-demo
