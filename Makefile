# Set-up and checks. `make test` and `make app` create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test app bench lint typecheck hooks format slow clean data model browser-test

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
	$(BIN)/ruff format --check .

# The typed library (mypy's settings: pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy geometry sim surrogate optim

# The same checks before each commit (.pre-commit-config.yaml: ruff check --fix, ruff format).
hooks: $(STAMP)
	$(BIN)/pre-commit install

# Lint, format check, types, then the tests. pytest exits 5 when it collects no test: make treats that as a
# failure, as it should.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy geometry sim surrogate optim
	$(BIN)/pytest -q

slow: $(STAMP)
	$(BIN)/pytest -q -m slow

# The app in a real browser (Debian's chromium driven by Playwright; a slow test): screenshots into
# docs/screenshots. Installs chromium with apt-get when missing (needs root).
browser-test: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
	$(BIN)/pip install -e '.[browser]'
	DRAGOPT_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -m slow tests/test_browser.py

# The benchmarks that fit 10 minutes on this machine; BENCH passes options or names: `make bench BENCH=--list`
# (each one, what it measures, its time, what it needs), `make bench BENCH=--all`, `make bench BENCH="startup split"`.
# Results go where the docs read them (docs/benchmarks/, benchmarks/out/: benchmarks/common.py).
BENCH ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH)

# The committed test sets, then the training set (out of git): each resumable (rerun after a kill); a rerun of
# a complete one checks it and does nothing. test: every training family; heldout: families no training set
# draws (geometry/heldout.py), at the design Re 1-40. (data/datasets/test-v1, the earlier test set of compact
# bodies, is kept as it was made: docs/datasets.md.)
data: $(STAMP)
	$(BIN)/dragopt generate --out data/datasets/test --n 960 --seed 1
	$(BIN)/dragopt generate --out data/datasets/heldout --n 300 --seed 2 --sampler heldout --re-min 1 --re-max 40
	$(BIN)/dragopt generate --out data/datasets/train --n 8640 --seed 0

# The shipped model, data/models/default (docs/surrogate.md): an ensemble of five. Supervised pre-training of the
# base-32 U-Net, then differentiable-physics (dp) fine-tuning (about 2.6 hours on 2 CPU cores, 6 minutes on an H200
# with DEVICE=cuda), then two rounds of `dragopt refine` (optimised designs simulated and added to the training set
# as shards, then a long settling fine-tune; about 45 minutes), then five bootstrap dp fine-tunes of the refined model
# (about 2.5 minutes each on the CPU), combined with float16 weights and calibrated on the test set. A killed run
# resumes when rerun.
DEVICE ?= cpu
MEMBERS := 0 1 2 3 4
model: $(STAMP)
	test -f data/datasets/train/manifest.json || $(MAKE) data
	$(BIN)/dragopt train --data data/datasets/train --method supervised --base 32 --steps 14310 \
		--eval-every 2000 --device $(DEVICE) --out data/runs/model-supervised
	$(BIN)/dragopt train --data data/datasets/train --method dp --init data/runs/model-supervised --steps 6472 \
		--eval-every 2000 --device $(DEVICE) --out data/runs/model-dp
	$(BIN)/dragopt evaluate --model data/runs/model-dp --data data/datasets/test --record
	$(BIN)/dragopt refine --model data/runs/model-dp --data data/datasets/train --out data/runs/model-refined \
		--device $(DEVICE)
	for k in $(MEMBERS); do \
		$(BIN)/dragopt train --data data/datasets/train --method dp --init data/runs/model-refined --bootstrap \
			--seed $$k --lr 3e-6 --steps 300 --eval-every 300 -q \
			--device $(DEVICE) --out data/runs/model-member-$$k || exit 1; \
	done
	rm -rf data/models/.default.new
	$(BIN)/dragopt ensemble $(foreach k,$(MEMBERS),data/runs/model-member-$(k)) --float16 \
		--data data/datasets/test --out data/models/.default.new
	$(BIN)/dragopt evaluate --model data/models/.default.new --data data/datasets/test --record
	rm -rf data/models/default && mv data/models/.default.new data/models/default

app: $(STAMP)
	$(BIN)/dragopt app

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV)
