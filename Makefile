# yecai — the two commands of the README (make demo, make test) work from a fresh clone:
# they create and fill a local virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := yecai tests bench

.PHONY: demo test test-fast lint fmt install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/yecai demo

test: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/pytest -q

# the fast suite: no browser, chaos, PostgreSQL or slow end-to-end tests (a few minutes; Redis for a few)
FAST := not browser and not chaos and not postgres and not slow
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "$(FAST)"

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)

fmt: $(STAMP)
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info .yecai-demo
