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

.PHONY: help install book test lint unit book-strict figures lock clean

help:
	@echo "make book         install (first time), execute every chapter (cached), build _build/html"
	@echo "make test         install, then ruff, unit tests and the strict book build (fresh execution)"
	@echo "make lint | unit | book-strict   the three parts of 'make test'"
	@echo "make figures      execute every chapter afresh; writes figures/<chapter>-<name>.{png,pdf}"
	@echo "make lock         re-record the exact tested versions in constraints.txt"
	@echo "make clean        remove _build/ and figures/ (keeps .venv/ and the model cache)"

# The environment: a virtualenv with the package (editable) and the book/dev tools, at the
# versions recorded in constraints.txt.  torch is pinned to the CPU wheel that these machines
# carry on disk; asking for it explicitly stops pip from resolving to a CUDA build.
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

lock: $(STAMP)
	{ echo '# Exact versions with which `make test` last passed (regenerate with `make lock`).'; \
	  echo '# Used as a pip constraints file: it fixes versions without adding requirements.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^wgf' | sort -f; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf _build figures
