# The verbs a reader types. Python packages live in .venv (from requirements.txt), the site's
# JavaScript in node_modules/ (from package-lock.json); both are made on first use.
PYTHON    ?= python3
VENV      := .venv
PY        := $(VENV)/bin/python
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup run lab test seeds html slides bench browser clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

run: setup          ## execute every notebook in place (fresh outputs), regenerate the Chinese edition, build the book
	$(PY) tools/run_notebooks.py $(NOTEBOOKS)
	$(PY) tools/translate.py build
	$(PY) tools/build_site.py

lab: setup          ## JupyterLab on notebooks/, in the project's environment
	$(VENV)/bin/jupyter lab notebooks/

test: setup browser ## unit tests, strict nbval (twice: this CPU's kernels and old ones), seed sweep, site
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

OFFSETS ?= 1 2
seeds: setup        ## re-execute every notebook with its seeds shifted by each of OFFSETS (no compare)
	$(PY) tools/seed_sweep.py $(NOTEBOOKS) --offsets $(OFFSETS)

html: setup         ## the book in both languages: build/html/ (and zh/) from the committed notebooks
	$(PY) tools/build_site.py

slides: setup       ## the book plus a teaching deck per notebook: build/html/slides/
	$(PY) tools/build_site.py --slides

bench: setup        ## performance benchmarks (not part of test)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

browser:            ## headless Chromium for the browser tests (Debian's package, needs root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; } || \
	  echo "Chromium could not be installed: the browser tests will be skipped."

clean:
	rm -rf build
