# Two commands: `make run` and `make test`. Both bootstrap the virtual environment first.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec

VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Extra options for run_local.py, e.g. make run ARGS="--data /usr/share/datasets/fashion-mnist"
ARGS ?=
# Extra options for pytest, e.g. make test PYTEST_ARGS="-k sources"
PYTEST_ARGS ?=
# This machine's pip configuration names local package folders that may not exist; pip warns
# once per package about each. The warnings are noise, errors still fail the build.
PIP_NOISE := is ignored: it is neither a file nor a directory

.PHONY: install run test golden clean

install: $(STAMP)

# Reinstalls only when the pins or the packaging change, so a second `make install` is instant.
$(STAMP): requirements.txt setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (TFX 1.16 wheels), found " + sys.version' 
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned stack into $(VENV) (a few minutes the first time)..."
	@$(VPY) -m pip install --quiet --disable-pip-version-check --ignore-requires-python --no-deps \
		-r requirements.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		-e . 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $(STAMP)

run: install
	$(VPY) pipeline/run_local.py $(ARGS)

test: install
	$(VPY) -m pytest tests $(PYTEST_ARGS)

# Rewrites tests/golden/kubeflow_pipeline.yaml from the current code; review its diff.
golden: install
	UPDATE_GOLDEN=1 $(VPY) -m pytest tests/test_kubeflow.py -k golden_spec -q

clean:
	rm -rf outputs .pytest_cache
