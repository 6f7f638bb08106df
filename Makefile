# make run   — the main job: a character LSTM on the embedded corpus (no download, no data argument;
#              it replaces the previous main job in runs/lm)
# make test  — the whole test suite (lint, type check, API docs check, unit tests, doctests)
# make docs  — the API reference, HTML from the docstrings, into build/api/ (not committed)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint docs bench clean

$(VENV)/.installed: pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

run: $(VENV)/.installed
	$(PY) -m rnnkit train --overwrite

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy rnnkit
	$(PY) tools/check_docs.py
	$(PY) -m pytest

docs: $(VENV)/.installed
	$(PY) tools/check_docs.py --html build/api

bench: $(VENV)/.installed
	$(PY) -m benchmarks.sequence_kernels
	$(PY) -m benchmarks.step_modules
	$(PY) -m benchmarks.seq_layers
	$(PY) -m benchmarks.lm_train
	$(PY) -m benchmarks.masking
	$(PY) -m benchmarks.nce
	$(PY) -m benchmarks.data_pipeline

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache build
