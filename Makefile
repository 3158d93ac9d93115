# `make run` runs the pipeline; `make test` lints and runs the whole suite, `make test-fast` the
# tests that run no pipeline (units and executor tests); `make lint` alone. Each bootstraps the
# virtual environment first.
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

.PHONY: install run lint test test-fast golden clean

# TensorFlow.js for the web page, from the npm package at a pinned version, checked against the
# registry's integrity hash; only its one browser bundle is kept (web/vendor/tf.min.js).
TFJS_VERSION := 4.22.0
TFJS_INTEGRITY := sha512-0TrIrXs6/b7FLhLVNmfh8Sah6JgjBPH4mZ8JGb7NU6WW+cx00qK5BcAZxw7NCzxj6N8MRAIfHq+oNbPUNG5VAg==
TFJS_BUNDLE := web/vendor/tf.min.js

# The TF.js converter's dependencies (JAX, TF Decision Forests) live apart from the main
# environment; see requirements-tfjs.txt.
TFJS_CONVERTER := $(VENV)/tfjs-converter
TFJS_STAMP := $(TFJS_CONVERTER)/.installed

# The S3-protocol server the tests run (moto's server mode), in its own environment.
S3_SERVER := $(VENV)/s3-server
S3_SERVER_STAMP := $(S3_SERVER)/.installed

install: $(STAMP) $(TFJS_STAMP) $(TFJS_BUNDLE) $(S3_SERVER_STAMP)

$(S3_SERVER_STAMP): requirements-s3-server.txt $(STAMP)
	@echo "Installing the S3 test server (moto) into $(S3_SERVER)..."
	@rm -rf $(S3_SERVER)
	@$(PYTHON) -m venv $(S3_SERVER)
	@$(S3_SERVER)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		-r requirements-s3-server.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $(S3_SERVER_STAMP)

$(TFJS_STAMP): requirements-tfjs.txt $(STAMP)
	@echo "Installing the TensorFlow.js converter into $(TFJS_CONVERTER)..."
	@rm -rf $(TFJS_CONVERTER)
	@$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --target $(TFJS_CONVERTER) \
		-r requirements-tfjs.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $(TFJS_STAMP)

$(TFJS_BUNDLE): Makefile
	@command -v npm >/dev/null || { echo "npm is needed to fetch TensorFlow.js (apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack --silent @tensorflow/tfjs@$(TFJS_VERSION) >/dev/null) && \
	  got="sha512-$$(openssl dgst -sha512 -binary "$$tmp"/tensorflow-tfjs-$(TFJS_VERSION).tgz | base64 -w0)" && \
	  { [ "$$got" = "$(TFJS_INTEGRITY)" ] || { echo "@tensorflow/tfjs $(TFJS_VERSION): integrity $$got, expected $(TFJS_INTEGRITY)"; exit 1; }; } && \
	  tar -xzf "$$tmp"/tensorflow-tfjs-$(TFJS_VERSION).tgz -C "$$tmp" package/dist/tf.min.js && \
	  mkdir -p $(dir $(TFJS_BUNDLE)) && mv "$$tmp"/package/dist/tf.min.js $(TFJS_BUNDLE) && touch $(TFJS_BUNDLE)
	@echo "TensorFlow.js $(TFJS_VERSION) -> $(TFJS_BUNDLE)"

# Left out of the pins on purpose (requirements.txt says why); removed from environments made
# before, since Keras imports them at start-up whenever they are present.
LEFT_OUT := matplotlib scikit-learn

# Reinstalls only when the pins or the packaging change, so a second `make install` is instant.
$(STAMP): requirements.txt setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (TFX 1.16 wheels), found " + sys.version' 
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned stack into $(VENV) (a few minutes the first time)..."
	@$(VPY) -m pip install --quiet --disable-pip-version-check --ignore-requires-python --no-deps \
		-r requirements.txt 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@$(VPY) -m pip uninstall --quiet --disable-pip-version-check --yes $(LEFT_OUT) 2>&1 \
		| { grep -v "$(PIP_NOISE)\|Skipping .* as it is not installed" || true; }
	@$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		-e . 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@touch $(STAMP)

run: install
	$(VPY) pipeline/run_local.py $(ARGS)

# ruff, pinned in requirements.txt, with ruff.toml.
lint: install
	$(VENV)/bin/ruff check --no-cache --quiet .

test: lint
	$(VPY) -m pytest tests $(PYTEST_ARGS)

# Tests marked e2e run the pipeline, a server-backed run or a training job; the rest are units
# and executor tests on small fixtures (docs/tests.md says which tier proves what).
test-fast: lint
	$(VPY) -m pytest tests -m "not e2e" $(PYTEST_ARGS)

# Rewrites tests/golden/kubeflow_pipeline.yaml from the current code; review its diff.
golden: install
	UPDATE_GOLDEN=1 $(VPY) -m pytest tests/test_kubeflow.py -k golden_spec -q

clean:
	rm -rf outputs .pytest_cache
