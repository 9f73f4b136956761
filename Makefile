# Two entry points for a fresh clone: `make demo` and `make test`.
# Each creates .venv, installs the pinned CPU torch first (so pip never pulls a CUDA build), then this
# package: `make demo` with its core dependencies only, `make test` also with the test, interop, llm and ray
# extras. `make docs` adds the docs extra and builds the site (docs/, mkdocs.yml).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install clean torchgfn-venv rllib-venv verl-venv docs docs-browser

# ips-rl and its core dependencies: what `ips-rl demo` needs
$(VENV)/.core-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e .
	$(PY) -m ips_envs_plugin install  # the editable install writes it too (setup.py); older setuptools did not
	touch $@

$(VENV)/.installed: $(VENV)/.core-installed
	$(PY) -m pip install -q -e ".[test,interop,llm,ray]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.core-installed
	$(VENV)/bin/ips-rl demo --out demo_out

test: $(VENV)/.installed .venv-rllib/.installed .venv-verl/.installed
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

# A separate interpreter for verl 0.6.1 (it pins numpy<2; transformers<5 and pyarrow<21 for verl's imports and
# numpy 1.x); tests/test_verl_ips.py drives verl's reward managers and compute_advantage with it (~3 min to build)
verl-venv: .venv-verl/.installed

.venv-verl/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-verl
	.venv-verl/bin/python -m pip install -q --upgrade pip
	.venv-verl/bin/python -m pip install -q torch==2.13.0
	.venv-verl/bin/python -m pip install -q "verl==0.6.1" "transformers>=4.51,<5" "datasets>=3.6,<4.1" \
		"pyarrow>=19,<21" -e .
	.venv-verl/bin/python -m ips_envs_plugin install
	touch $@

# The documentation site: site/ built with warnings as errors, then tests/test_docs_site.py against it (API
# reference coverage, env gallery, and the main pages in headless Chromium; screenshots in docs_artifacts/)
$(VENV)/.docs-installed: $(VENV)/.core-installed
	$(PY) -m pip install -q -e ".[docs,test]"
	touch $@

# Debian's chromium + chromium-driver for the browser test (installed when run as root, as in CI)
docs-browser:
	@if [ ! -x /usr/bin/chromedriver ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi
	@[ -x /usr/bin/chromedriver ] || echo "no /usr/bin/chromedriver (apt-get install chromium chromium-driver as root): the browser test skips"

docs: $(VENV)/.docs-installed docs-browser
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict
	IPS_DOCS_SITE=site $(PY) -m pytest -q -p no:cacheprovider tests/test_docs_site.py

clean:
	rm -rf $(VENV) .venv-torchgfn .venv-rllib .venv-verl demo_out site docs_artifacts
