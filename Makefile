# Two commands on a fresh machine with Python 3.11:  make book  and  make test.
# Each sets up the virtual environment it needs (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Extra arguments for the build, e.g. make book ARGS="--cohort my.xlsx --out report"
ARGS   ?=

.PHONY: book test venv bench pdf clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(PY) -m analysis build $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

pdf: $(STAMP)
	$(PY) -m analysis.build.pdf $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/build_time.py

clean:
	rm -rf _build
