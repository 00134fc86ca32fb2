# Entry points for a fresh machine: `make install`, `make demo`, `make test`, `make results`, `make dataset`.
# Each creates .venv and installs the package (pinned, CPU-only) on first use.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test results dataset

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tvm-gnn-cost demo $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(ARGS)

# Every benchmark, then docs/results.md from their JSON (about 100 minutes on 2 cores).
results: $(STAMP)
	$(PY) benchmarks/run_all.py $(ARGS)

# Re-measure the committed dataset on this machine (about 46 minutes on 2 cores; resumable).
DATASET := data/ops-resnet50-squeezenet
dataset: $(STAMP)
	$(VENV)/bin/tvm-gnn-cost collect build/$(notdir $(DATASET)) --suites ops,resnet50,squeezenet --random 16 --search 16
	tar -C build/$(notdir $(DATASET)) -cJf $(DATASET).tar.xz .
