# Two commands a newcomer needs (see README.md): `make demo` and `make test`.
# Both set everything up on first use and are quick no-ops afterwards.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch. On machines whose default index serves CUDA builds,
# add TORCH_INDEX=https://download.pytorch.org/whl/cpu (see README.md).
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
DEMO_LESSON ?= lessons/convolution.yaml
QUALITY ?= l

.PHONY: all setup system-packages test-packages demo test check format golden clean

all: demo

setup: system-packages $(STAMP)

system-packages:
	@sh scripts/system-packages.sh "$(PYTHON)"

test-packages:
	@sh scripts/system-packages.sh "$(PYTHON)" test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: setup
	$(BIN)/cnnlesson render $(DEMO_LESSON) -q $(QUALITY)

test: setup test-packages
	$(BIN)/python -m pytest

check: setup
	$(BIN)/ruff check cnn_model scenes tests benchmarks
	$(BIN)/ruff format --check cnn_model scenes tests benchmarks
	$(BIN)/mypy cnn_model scenes

# Render the golden frames anew (after an intended change of the look): look at
# tests/golden/*.png before committing them.
golden: setup
	$(BIN)/python -m pytest tests/test_golden_frames.py --update-golden

format: setup
	$(BIN)/ruff format cnn_model scenes tests benchmarks
	$(BIN)/ruff check --fix cnn_model scenes tests benchmarks

clean:
	rm -rf media .pytest_cache .mypy_cache .ruff_cache
