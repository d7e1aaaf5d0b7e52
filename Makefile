# aepred: the two commands a user needs are `make demo` and `make test`; the rest are parts of them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export ONNXRUNTIME_NODE_INSTALL := skip
export UV_CACHE_DIR ?= $(HOME)/.cache/uv
AEPRED := node bin/aepred.js
PY := .venv/bin/python

.PHONY: help install build lint typecheck test test-ops test-unit test-integration demo bench stack-up stack-down clean

help:
	@echo "make demo   - install what is missing, start the local stack, run aepred end to end"
	@echo "make test   - install, lint, typecheck, unit + integration tests against the real stack"
	@echo "make bench  - run the benchmarks, write bench/results/*.json, print a table"
	@echo "parts: install build lint typecheck test-unit test-integration stack-up stack-down clean"

install:
	@scripts/install.sh

build:
	@npx tsc -p tsconfig.build.json

lint:
	npx biome check .
	$(PY) -m ruff check ml pipelines tests/python
	$(PY) -m ruff format --check ml pipelines tests/python

typecheck:
	npx tsc -p tsconfig.json --noEmit
	$(PY) -m mypy

# Prometheus rules (issue 9): syntax, then the unit tests of every alert firing and not firing.
test-ops:
	promtool check rules ops/prometheus/rules/*.yml
	promtool test rules ops/prometheus/tests/*.test.yml

test-unit:
	npx vitest run --project unit
	$(PY) -m pytest -q -m "not integration"

# Starts the services the integration tests need (leaving alone those already running) and stops
# exactly the ones it started, whatever the tests' outcome.
test-integration:
# The console's browser tests (headless Chromium) run in the same stack session.
	@rm -f .local/logs/tests/FAILURES.txt
	@scripts/with-stack.sh bash -c 'scripts/test-step.sh vitest-integration npx vitest run --project integration \
	  && scripts/test-step.sh pytest-integration $(PY) -m pytest -q -m integration \
	  && scripts/test-step.sh e2e npx vitest run --config tests/e2e/vitest.config.ts'

test: install lint typecheck test-ops test-unit test-integration
	@echo "make test: all checks passed"

stack-up: install
	$(AEPRED) stack up

stack-down:
	$(AEPRED) stack down

demo: install
	@scripts/demo.sh

bench: install
	@scripts/bench.sh

clean:
	rm -rf dist .local/stamps

# Real-data benchmark (issue 6): PhysioNet 2019 .psv folders -> import -> bronze -> Spark silver ->
# Spark features -> train -> evaluate. Without TEST: internal patient-level test split of TRAIN; with
# TEST: train on TRAIN, score TEST. OUT (default bench/results/eval-physionet.json), EVAL_WORK (default
# .local/bench/eval-physionet) and EPOCHS are optional.
.PHONY: eval-physionet
eval-physionet:
	@test -n "$(TRAIN)" || { echo "usage: make eval-physionet TRAIN=<dir> [TEST=<dir>] [OUT=<json>]" >&2; exit 2; }
	@$(MAKE) --no-print-directory build
	$(PY) bench/eval-physionet.bench.py --train "$(TRAIN)" $(if $(TEST),--test "$(TEST)") \
		$(if $(OUT),--out "$(OUT)") $(if $(EVAL_WORK),--work "$(EVAL_WORK)") $(if $(EPOCHS),--epochs $(EPOCHS))

# Reproducible pipelines and deployment (issue 10; docs/pipelines.md, docs/deployment.md).
.PHONY: dvc-repro kfp-compile k8s-validate
dvc-repro: build
	PATH=$(CURDIR)/.venv/bin:$$PATH dvc repro
kfp-compile:
	$(PY) -m pipelines.kubeflow compile
k8s-validate:
	deploy/k8s/validate.sh
