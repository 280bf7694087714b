# Two commands set everything up on a fresh machine (Python >= 3.10 and pip):
#   make run    create .venv, install sliceq22, run the main job (de-overlap training) on the embedded data
#   make test   create .venv, install sliceq22 + test deps, run the test suite
# Set PYTHON to pick the interpreter the venv is created with (an existing venv keeps its own),
# VENV to put the environment elsewhere, or VENV= (empty) to install into the active environment.
# TORCH_SPEC pins torch when none is installed.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

ifeq ($(strip $(VENV)),)
PY := $(PYTHON)
else
ifneq ($(words $(VENV)),1)
$(error VENV="$(VENV)" contains spaces, which make cannot quote: choose a path without spaces)
endif
PY := $(VENV)/bin/python
endif

.PHONY: run test setup setup-dev bench bench-gpu clean

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

# every check that needs a GPU (tests marked gpu, the benchmarks on cuda); results land in
# benchmarks/results/. On a GPU machine with a CUDA torch already installed: make bench-gpu
bench-gpu: setup-dev
	$(PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'make bench-gpu needs a CUDA device (torch.cuda.is_available() is False)')"
	$(PY) -m pytest -m gpu $(PYTEST_ARGS)
	$(PY) benchmarks/bench_slicqt.py --device cuda
	$(PY) benchmarks/bench_dtw.py --device cuda --batch 64 --batch-n 2000 --batch-m 2000
	$(PY) benchmarks/bench_bsseval.py --device cuda
	$(PY) benchmarks/bench_nmf.py --device cuda
	$(PY) benchmarks/bench_separate.py --device cuda
	$(PY) benchmarks/bench_demix_step.py --device cuda --batch 16 --seconds 6 --override model.model.hidden=64

clean:
	rm -rf $(VENV) outputs .pytest_cache
