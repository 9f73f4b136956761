# Two entry points for a fresh clone: `make demo` and `make test`.
# Each creates .venv, installs the pinned CPU torch first (so pip never pulls a CUDA build),
# then this package with its test extras.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install clean torchgfn-venv rllib-venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,interop,llm,ray]"
	$(PY) -m ips_envs_plugin install  # editable installs get no .pth from the wheel: plain IPS/ ids everywhere
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/ips-rl demo --out demo_out

test: $(VENV)/.installed .venv-rllib/.installed
	$(PY) -m pytest -q -n 2 --dist loadfile

# Optional: a separate interpreter with torchgfn 2.4.1 (it needs numpy<2) for benchmarks/torchgfn_compare.py
torchgfn-venv: .venv-torchgfn/.installed

.venv-torchgfn/.installed:
	$(PYTHON) -m venv .venv-torchgfn
	.venv-torchgfn/bin/python -m pip install -q torch==2.13.0
	.venv-torchgfn/bin/python -m pip install -q torchgfn==2.4.1
	touch $@

# A separate interpreter for RLlib 2.60 (it pins gymnasium 1.2.2); tests/test_examples.py runs
# examples/rllib_ppo.py with it
rllib-venv: .venv-rllib/.installed

.venv-rllib/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-rllib
	.venv-rllib/bin/python -m pip install -q --upgrade pip
	.venv-rllib/bin/python -m pip install -q torch==2.13.0
	.venv-rllib/bin/python -m pip install -q "ray[rllib]==2.60.0" -e .
	.venv-rllib/bin/python -m ips_envs_plugin install
	touch $@

clean:
	rm -rf $(VENV) .venv-torchgfn .venv-rllib demo_out
