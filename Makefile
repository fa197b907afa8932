# wgf: `make book` builds the executed book, `make test` checks everything (see README.md).
# Both targets are self-installing: they create .venv/ with the pinned dependencies first.

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.wgf-installed
JB          := $(BIN)/jupyter-book
PIP_FLAGS   := $(if $(CI),--progress-bar off,)
# Trained models (wgf.zoo) are cached inside the checkout, so a fresh clone trains from scratch
# and `make clean` keeps them; set WGF_CACHE_DIR to share one cache between checkouts.
export WGF_CACHE_DIR ?= $(CURDIR)/.cache/zoo

.PHONY: help install book test lint unit book-strict figures bench lock clean

help:
	@echo "make book         install (first time), execute every chapter (cached), build _build/html"
	@echo "make test         install, then ruff, unit tests and the strict book build (fresh execution)"
	@echo "make lint | unit | book-strict   the three parts of 'make test'"
	@echo "make figures      execute every chapter afresh; writes figures/<chapter>-<name>.{png,pdf}"
	@echo "make bench        training throughput idle vs contended, and chapter times vs budgets"
	@echo "make lock         re-record the exact tested versions in constraints.txt"
	@echo "make clean        remove _build/ and figures/ (keeps .venv/ and the model cache)"

# The environment: a virtualenv with the package (editable) and the book/dev tools, at the
# versions recorded in constraints.txt (public releases only).  torch is asked for explicitly
# at its pinned version; where pip can see a CPU-only wheel of that version (a local wheel
# folder, or PyTorch's CPU index, see README.md) it takes that instead of a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (need Python >= 3.11)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "error: $(PYTHON) is older than 3.11"; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --quiet -c constraints.txt "torch==2.13.0" -e ".[dev]"
	touch $@

install: $(STAMP)

# Everyday build: chapters are executed through jupyter-cache, so an unchanged chapter is not
# re-run.  NB: the cache keys on code cells only; after changing wgf/ use `make test` (or
# `make clean`) to re-execute.
book: $(STAMP)
	$(JB) build .
	@echo "open _build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	$(BIN)/python -m pytest -q

# Strict build: nitpicky, warnings are errors, every chapter executed afresh (execution mode
# `force`, whatever the cache holds), chapter time budgets enforced by book/_ext/budgets.py.
book-strict: $(STAMP)
	$(BIN)/python book/_ext/strict_config.py _build/_config.strict.yml
	$(JB) build . -n -W --keep-going --all --config _build/_config.strict.yml

test: lint unit book-strict

figures: $(STAMP)
	$(BIN)/python book/_ext/run_chapters.py

# Performance goals are measured here, never in the tests: (a) training throughput of every
# model family idle and beside one busy process, (b) chapter times of the last build vs budgets.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Public versions only: a local label such as torch's `+cpu` is dropped (PEP 440 lets
# `torch==2.13.0` match the local CPU wheel where a machine has one; the public index has no
# `+cpu` release, so the label would break the install everywhere else).
lock: $(STAMP)
	{ echo '# Exact versions with which `make test` last passed (regenerate with `make lock`).'; \
	  echo '# Used as a pip constraints file: it fixes versions without adding requirements.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^wgf' \
	    | sed -E 's/^([^=]+==[^+]+)\+.*$$/\1/' | sort -f; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf _build figures
