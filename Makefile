# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs the package (pinned, CPU-only) on first use.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tvm-gnn-cost demo $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(ARGS)
