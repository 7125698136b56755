# Quick start: `make demo` (the MNIST demo) and `make test` (the whole test suite).
# Both create .venv and install the package with its test extras on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-tf test-jax test-fast bench install clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) mnist_demo/run.py --loss angular --dim 3

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest -q -n 2 --dist loadfile tests

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -q -m core tests

# both parts at once (the JAX part is short and the TensorFlow part leaves a core mostly idle); each part's
# output is printed whole when it ends
test: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-tf test-jax

# the inner loop (about 2 minutes): everything but the end-to-end tests (marker `slow`: training runs, processes)
test-fast: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest -q -m "not slow" tests

bench: $(STAMP)
	$(PY) bench/bench_head.py

clean:
	rm -rf $(VENV) *.egg-info
