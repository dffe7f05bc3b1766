# LabChain: `make lab` and `make test` are the two commands a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv lab test bench images clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make lab: local 4-node testnet + JupyterLab on labs/ (stops the testnet on exit)
## make lab LAB_LANG=zh-CN: the same with the notebooks' text and labchain's errors in Chinese
## (LAB_LANG, not LANG: LANG is the locale variable every shell already sets)
LAB_LANG ?= en
lab: $(STAMP)
	PY=$(PY) LAB_LANG=$(LAB_LANG) bash scripts/lab.sh

## make test: set up and run every test
test: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pytest $(PYTEST_ARGS)

## make bench: benchmark scripts that print figures (not tests)
bench: $(STAMP)
	$(PY) bench/run_all.py

## make images: build labchain/base, labchain/node, labchain/lab (docker/; no Docker Hub needed)
images: $(STAMP)
	$(PY) -m labchain.cli images build

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
