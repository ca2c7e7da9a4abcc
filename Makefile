# Set-up and checks. `make test` and `make app` create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test app bench lint format slow clean data

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# CPU build of torch first (a newer or unpinned torch would pull a multi-GB CUDA build).
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

# pytest exits 5 when it collects no test: make treats that as a failure, as it should.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

slow: $(STAMP)
	$(BIN)/pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The training set (out of git; resumable: rerun after a kill) and the committed held-out test set (made once;
# a rerun checks it and does nothing).
data: $(STAMP)
	$(BIN)/dragopt generate --out data/datasets/train --n 4096 --seed 0
	$(BIN)/dragopt generate --out data/datasets/test --n 500 --seed 1

app: $(STAMP)
	$(BIN)/dragopt app

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV)
