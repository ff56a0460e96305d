# The README's commands. Each target creates .venv when it is missing.
# MNIST: set DIGITS_DATA_DIR, or it is taken from ../shared/data/mnist when that
# exists, else downloaded to ~/.cache/digit-recognizer/mnist on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED_MNIST := $(wildcard $(CURDIR)/../shared/data/mnist)
ifneq ($(SHARED_MNIST),)
export DIGITS_DATA_DIR ?= $(abspath $(SHARED_MNIST))
endif

.PHONY: draw serve test lint evaluate train bench docs docs-serve package clean

$(VENV)/.app: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.app

draw: $(VENV)/.app            ## open the drawing window
	$(BIN)/digits draw

serve: $(VENV)/.dev           ## web app and API on http://127.0.0.1:8000
	$(BIN)/digits serve

evaluate: $(VENV)/.app        ## the shipped model on the MNIST test set
	$(BIN)/digits evaluate

train: $(VENV)/.dev           ## train a model with the default recipe (runs/train/expN)
	$(BIN)/digits train

test: $(VENV)/.dev lint       ## lint, type-check and run every test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks .ci/check_dist.py
	$(BIN)/ruff format --check src tests benchmarks .ci/check_dist.py
	$(BIN)/mypy

bench: $(VENV)/.dev           ## speed and accuracy benchmarks (prints figures)
	$(BIN)/python benchmarks/bench_recognize.py
	$(BIN)/python benchmarks/bench_realistic.py
	$(BIN)/python benchmarks/bench_mnist_png.py
	$(BIN)/python benchmarks/bench_desktop.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_train.py

docs: $(VENV)/.dev           ## the documentation site into site/ (fails on any warning; offline)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: $(VENV)/.dev     ## the documentation site on http://127.0.0.1:8001, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

package: $(VENV)/.dev        ## wheel + sdist into dist/, checked and installed into a fresh venv
	PYTHON=$(BIN)/python .ci/package-check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis site dist build
