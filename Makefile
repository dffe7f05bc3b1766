# LabChain: `make lab` and `make test` are the two commands a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv lab lab-instructor test test-long bench images clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make lab: the student view -- JupyterLab on var/student/ (student versions of labs/, made by
## nbgrader; your work there is kept) + a local 4-node testnet (stops on exit)
## make lab LAB_LANG=zh-CN: the same with the notebooks' text and labchain's errors in Chinese
## (LAB_LANG, not LANG: LANG is the locale variable every shell already sets)
## make lab-instructor: the sources (labs/ via var/lab-course) with nbgrader's instructor tools
LAB_LANG ?= en
lab: $(STAMP)
	PY=$(PY) LAB_LANG=$(LAB_LANG) bash scripts/lab.sh

lab-instructor: $(STAMP)
	PY=$(PY) LAB_LANG=$(LAB_LANG) LAB_VIEW=instructor bash scripts/lab.sh

## make test: set up and run every test but those marked `long` (minutes each: the class
## server's real hub, the labs' wrong-solution corpus); make test-long runs those; .ci/run runs both
test: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pytest -m "not long" $(PYTEST_ARGS)

test-long: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pytest -m long $(PYTEST_ARGS)

## make bench: benchmark scripts that print figures (not tests)
bench: $(STAMP)
	$(PY) bench/run_all.py

## make images: build labchain/base, labchain/node, labchain/lab (docker/; no Docker Hub needed)
images: $(STAMP)
	$(PY) -m labchain.cli images build

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
