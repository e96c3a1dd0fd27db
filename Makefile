# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Two cores: one torch process using both, never two.
export OMP_NUM_THREADS ?= 2

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints/cpu.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# pyproject.toml asks for a torch range; constraints/cpu.txt pins this machine's CPU build
	# (its wheel lies on disk), so neither step can pull a CUDA build. torch goes in first.
	$(BIN)/python -m pip install -q -c constraints/cpu.txt torch
	$(BIN)/python -m pip install -q -c constraints/cpu.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/infodyn run grokking --out runs

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/matrix_information.py
	$(BIN)/python benchmarks/monitor_overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
