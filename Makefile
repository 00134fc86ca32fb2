# Entry points for a fresh machine: `make install`, `make demo`, `make test`, `make results`, `make dataset`,
# `make generated`, `make weights`.
# Each creates .venv and installs the package (pinned, CPU-only) on first use.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test results dataset generated weights

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

# Every benchmark, then docs/results.md from their JSON (about 4 hours on 2 cores; the unseen-model search is about 2 of them).
results: $(STAMP)
	$(PY) benchmarks/run_all.py $(ARGS)

# Re-measure the committed dataset on this machine (about 46 minutes on 2 cores; resumable).
DATASET := data/ops-resnet50-squeezenet
dataset: $(STAMP)
	$(VENV)/bin/tvm-gnn-cost collect build/$(notdir $(DATASET)) --suites ops,resnet50,squeezenet --random 16 --search 16 \
		--exclude-unseen
	tar -C build/$(notdir $(DATASET)) -cJf $(DATASET).tar.xz .

# The data campaign: measure generated models' tasks into build/, packing finished tasks into
# data/generated/ at least every hour (commit those). Resumable on any machine: tasks any chunk
# holds are skipped. `make generated SEED=1 MODELS=200`; runs at low priority.
GENERATED := data/generated
SEED ?= 0
MODELS ?= 40
generated: $(STAMP)
	nice -n 19 $(VENV)/bin/tvm-gnn-cost generate build/generated-s$(SEED) --models $(MODELS) --seed $(SEED) \
		--chunks $(GENERATED) $(ARGS)

# Retrain the shipped weights from the committed datasets (see tvm_gnn_cost/weights/README.md).
weights: $(STAMP)
	$(VENV)/bin/tvm-gnn-cost train $(GENERATED) $(DATASET).tar.xz --out build/weights/default.pt
	cp build/weights/default.pt build/weights/default.json tvm_gnn_cost/weights/
	cp build/weights/default.png docs/pretraining.png
