# Two commands set everything up on a fresh machine (Python >= 3.10 and pip):
#   make run    create .venv, install sliceq22, run the main job (de-overlap training) on the embedded data
#   make test   create .venv, install sliceq22 + test deps, run the test suite
# Set PYTHON to pick an interpreter, VENV to put the environment elsewhere, or VENV= (empty)
# to install into the active environment. TORCH_SPEC pins torch when none is installed.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

ifeq ($(strip $(VENV)),)
PY := $(PYTHON)
else
PY := $(VENV)/bin/python
endif

.PHONY: run test setup setup-dev bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

setup: $(if $(strip $(VENV)),$(VENV)/bin/python)
	$(PY) scripts/setup_env.py --torch "$(TORCH_SPEC)"

setup-dev: $(if $(strip $(VENV)),$(VENV)/bin/python)
	$(PY) scripts/setup_env.py --torch "$(TORCH_SPEC)" --dev

run: setup
	$(PY) train.py experiment=deoverlap

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup-dev
	$(PY) benchmarks/bench_slicqt.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
