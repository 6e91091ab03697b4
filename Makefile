# The verbs a reader types. Everything runs inside .venv, made from requirements.txt on first use.
PYTHON    ?= python3
VENV      := .venv
PY        := $(VENV)/bin/python
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup run lab test html slides bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -e .
	touch $@

run: setup          ## execute every notebook in place (fresh outputs), then render build/
	$(PY) tools/run_notebooks.py $(NOTEBOOKS)
	$(PY) tools/build_site.py

lab: setup          ## JupyterLab on notebooks/, in the project's environment
	$(VENV)/bin/jupyter lab notebooks/

test: setup         ## unit tests of helpers/, static checks, strict nbval of every notebook
	$(PY) -m pytest

html: setup         ## render the committed notebooks to build/ (no execution)
	$(PY) tools/build_site.py

bench: setup        ## performance benchmarks (not part of test)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build
